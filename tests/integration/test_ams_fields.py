"""What the AMS work shows through GraphQL on records: `Record.archivedAt`, loaded for a whole page
in one query (never one per record). Runs on SQLite and PostgreSQL."""

from datetime import datetime

from app.services import Services
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.helpers import shopify_product, statements_on
from tests.integration.test_ingest_pipeline import finished_job, push

ARCHIVE = """mutation($input: ArchiveRecordsInput!) {
  archiveRecords(input: $input) { archived errors { code message path } }
}"""
RECORDS = """{ records(entity: PRODUCT, first: 100) { nodes { externalId archivedAt } } }"""


async def stored_catalog(gql: GraphQL, services: Services, tenant: Tenant, count: int) -> None:
    payload = await push(gql, tenant, [shopify_product(n) for n in range(count)])
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["counters"]["written"] == count, job


async def archive(gql: GraphQL, tenant: Tenant, *numbers: int) -> None:
    keys = [
        {"sourcePlatform": "SHOPIFY", "externalId": shopify_product(n)["external_id"]}
        for n in numbers
    ]
    data = await gql(ARCHIVE, {"input": {"entity": "PRODUCT", "records": keys}}, key=tenant.secret)
    assert data["archiveRecords"] == {"archived": len(numbers), "errors": []}


async def archived_at(gql: GraphQL, tenant: Tenant) -> dict[str, str | None]:
    data = await gql(RECORDS, key=tenant.secret)
    return {node["externalId"]: node["archivedAt"] for node in data["records"]["nodes"]}


async def test_records_show_when_they_were_archived_and_revive_when_pushed_newer(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    await stored_catalog(gql, services, tenant, 3)
    before = datetime.now().astimezone()
    await archive(gql, tenant, 1)

    shown = await archived_at(gql, tenant)
    one = shopify_product(1)["external_id"]
    assert [key for key, at in shown.items() if at is not None] == [one]
    assert datetime.fromisoformat(str(shown[one])) >= before
    assert len(shown) == 3  # archived records stay readable

    # Pushed again with a newer source_updated_at: alive again, no archival shown.
    newer = shopify_product(1, updated_at="2099-01-01T00:00:00Z")
    payload = await push(gql, tenant, [newer])
    await finished_job(gql, services, tenant, payload["job"]["id"])
    assert all(at is None for at in (await archived_at(gql, tenant)).values())


async def test_a_page_loads_its_archivals_in_one_query(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    await stored_catalog(gql, services, tenant, 30)
    await archive(gql, tenant, 3, 17, 29)

    with statements_on(services, "archived_records") as seen:
        shown = await archived_at(gql, tenant)

    assert len(shown) == 30
    assert sum(at is not None for at in shown.values()) == 3
    assert len(seen) == 1, seen  # one for the page, not one per record


async def test_another_clients_archival_of_the_same_ids_is_not_shown(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    other = await create_tenant(services, "Other client")
    await stored_catalog(gql, services, tenant, 2)
    await stored_catalog(gql, services, other, 2)
    await archive(gql, other, 0, 1)

    assert set((await archived_at(gql, tenant)).values()) == {None}
    assert None not in set((await archived_at(gql, other)).values())
