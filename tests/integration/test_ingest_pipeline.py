"""A partner pushes records through GraphQL and reads back exactly what was stored."""

from typing import Any

from tests.conftest import GraphQL, Tenant
from tests.helpers import (
    JOB_QUERY,
    RECORDS_QUERY,
    drain,
    ingest_mutation,
    personal_reader,
    shopify_product,
)


async def push(
    gql: GraphQL,
    tenant: Tenant,
    records: list[Any],
    entity: str = "product",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    variables = {"input": {"records": records, "idempotencyKey": idempotency_key}}
    data = await gql(ingest_mutation(entity), variables, key=tenant.secret)
    return dict(next(iter(data.values())))


async def finished_job(gql: GraphQL, services: Any, tenant: Tenant, job_id: str) -> dict[str, Any]:
    await drain(services)
    return dict((await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"])


async def stored(
    gql: GraphQL, tenant: Tenant, ids: list[str] | None = None, entity: str = "PRODUCT"
) -> list[dict[str, Any]]:
    data = await gql(RECORDS_QUERY, {"entity": entity, "ids": ids, "first": 500}, key=tenant.secret)
    return list(data["records"]["nodes"])


async def test_a_catalog_push_is_stored_and_readable(gql, services, tenant):
    products = [shopify_product(n) for n in range(3)]
    payload = await push(gql, tenant, products)
    assert payload["errors"] == []
    assert payload["job"]["status"] == "QUEUED"
    assert payload["job"]["counters"]["received"] == 3

    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED"
    assert job["counters"] == {
        "received": 3,
        "valid": 3,
        "quarantined": 0,
        "unchanged": 0,
        "stale": 0,
        "written": 3,
        "held": 0,
        "processed": 3,
    }
    records = {r["externalId"]: r for r in await stored(gql, tenant)}
    assert set(records) == {p["external_id"] for p in products}
    first = records[products[0]["external_id"]]
    assert first["version"] == 1
    assert first["data"]["variants"][1]["options"] == {"size": "M", "color": "Sand"}
    assert first["data"]["price"] == {"amount": "49.90", "currency": "EUR"}
    # Offsets are normalised to UTC.
    assert first["data"]["source_created_at"] == "2025-03-14T07:30:00Z"


async def test_invalid_records_are_quarantined_with_field_paths_and_valid_ones_kept(
    gql, services, tenant
):
    records = [
        shopify_product(1),
        shopify_product(2, price={"amount": 49.9, "currency": "EUR"}),  # a float, not a string
        shopify_product(3, status="on_sale"),  # unknown enum value
        {"external_id": "x", "source_platform": "shopify"},  # missing required fields
        "not an object",
        shopify_product(6, colour="red"),  # unknown field
        shopify_product(7, source_updated_at="2026-11-01T10:00:00"),  # no offset
    ]
    payload = await push(gql, tenant, records)
    job = await finished_job(gql, services, tenant, payload["job"]["id"])

    assert job["status"] == "PARTIALLY_SUCCEEDED"
    assert job["counters"]["valid"] == 1
    assert job["counters"]["quarantined"] == 6
    assert job["counters"]["written"] == 1
    errors = {(e["index"], e["path"]): e for e in job["errors"]["nodes"]}
    assert errors[(1, "records[1].price.amount")]["code"] == "invalid_type"
    assert "decimal string" in errors[(1, "records[1].price.amount")]["message"]
    assert errors[(2, "records[2].status")]["code"] == "invalid_enum"
    assert errors[(3, "records[3].source_updated_at")]["code"] == "required"
    assert errors[(3, "records[3].name")]["code"] == "required"
    assert errors[(4, "records[4]")]["code"] == "invalid_type"
    assert errors[(5, "records[5].colour")]["code"] == "unknown_field"
    assert errors[(6, "records[6].source_updated_at")]["code"] == "invalid_format"
    assert errors[(2, "records[2].status")]["externalId"] == "8072389003"
    assert [r["externalId"] for r in await stored(gql, tenant)] == ["8072389001"]


async def test_a_job_of_only_invalid_records_fails(gql, services, tenant):
    payload = await push(gql, tenant, [{"name": "no ids"}, {"external_id": "1"}])
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "FAILED"
    assert job["counters"]["quarantined"] == 2
    assert await stored(gql, tenant) == []


async def test_a_stale_update_does_not_overwrite_a_newer_record(gql, services, tenant):
    newer = shopify_product(1, updated_at="2026-11-02T10:00:00Z", name="Linen Shirt (new)")
    await finished_job(gql, services, tenant, (await push(gql, tenant, [newer]))["job"]["id"])

    older = shopify_product(1, updated_at="2026-11-01T10:00:00Z", name="Linen Shirt (old)")
    job = await finished_job(gql, services, tenant, (await push(gql, tenant, [older]))["job"]["id"])
    assert job["status"] == "SUCCEEDED"
    assert job["counters"]["stale"] == 1
    assert job["counters"]["written"] == 0
    [record] = await stored(gql, tenant)
    assert record["data"]["name"] == "Linen Shirt (new)"
    assert record["sourceUpdatedAt"] == "2026-11-02T10:00:00+00:00"


async def test_identical_records_count_as_unchanged_and_changes_bump_the_version(
    gql, services, tenant
):
    product = shopify_product(1)
    await finished_job(gql, services, tenant, (await push(gql, tenant, [product]))["job"]["id"])
    again = await finished_job(
        gql, services, tenant, (await push(gql, tenant, [product]))["job"]["id"]
    )
    assert again["counters"]["unchanged"] == 1
    assert again["counters"]["written"] == 0

    changed = shopify_product(
        1, updated_at="2026-11-03T10:00:00Z", price={"amount": "39.90", "currency": "EUR"}
    )
    third = await finished_job(
        gql, services, tenant, (await push(gql, tenant, [changed]))["job"]["id"]
    )
    assert third["counters"]["written"] == 1
    [record] = await stored(gql, tenant)
    assert record["version"] == 2
    assert record["data"]["price"]["amount"] == "39.90"


async def test_duplicates_within_one_batch_keep_the_newest(gql, services, tenant):
    records = [
        shopify_product(1, updated_at="2026-11-05T00:00:00Z", name="newest"),
        shopify_product(1, updated_at="2026-11-01T00:00:00Z", name="oldest"),
        shopify_product(1, updated_at="2026-11-05T00:00:00Z", name="newest"),
    ]
    job = await finished_job(gql, services, tenant, (await push(gql, tenant, records))["job"]["id"])
    assert job["counters"] == {
        "received": 3,
        "valid": 3,
        "quarantined": 0,
        "unchanged": 1,
        "stale": 1,
        "written": 1,
        "held": 0,
        "processed": 3,
    }
    [record] = await stored(gql, tenant)
    assert record["data"]["name"] == "newest"


async def test_every_entity_is_accepted(gql, services, tenant):
    samples = {
        "asset": {
            "external_id": "img-1",
            "source_platform": "custom",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "kind": "image",
            "source_url": "https://cdn.example.com/a.jpg",
            "width": 800,
            "height": 600,
        },
        "campaign": {
            "external_id": "c-1",
            "source_platform": "hubspot",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "name": "Launch",
            "start_at": "2026-12-01T00:00:00Z",
            "end_at": "2026-12-31T00:00:00Z",
            "budget": {"amount": "1000", "currency": "usd"},
        },
        "audience": {
            "external_id": "51",
            "source_platform": "hubspot",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "email": " Ana@Example.COM ",
            "country": "pt",
            "email_consent": "subscribed",
        },
    }
    for entity, record in samples.items():
        job = await finished_job(
            gql, services, tenant, (await push(gql, tenant, [record], entity))["job"]["id"]
        )
        assert job["status"] == "SUCCEEDED", job
        assert job["entity"] == entity.upper()
    reader = await personal_reader(services, tenant)  # the email unmasked
    [person] = await stored(gql, reader, entity="AUDIENCE")
    assert person["data"]["email"] == "ana@example.com"
    assert person["data"]["country"] == "PT"
    [campaign] = await stored(gql, tenant, entity="CAMPAIGN")
    assert campaign["data"]["budget"] == {"amount": "1000", "currency": "USD"}


async def test_cross_field_rules_name_the_field(gql, services, tenant):
    campaign = {
        "external_id": "c-1",
        "source_platform": "hubspot",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": "Launch",
        "start_at": "2026-12-31T00:00:00Z",
        "end_at": "2026-12-01T00:00:00Z",
    }
    person = {
        "external_id": "9",
        "source_platform": "hubspot",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "first_name": "Ana",
    }
    job = await finished_job(
        gql, services, tenant, (await push(gql, tenant, [campaign], "campaign"))["job"]["id"]
    )
    assert [(e["path"], e["code"]) for e in job["errors"]["nodes"]] == [
        ("records[0].end_at", "end_before_start")
    ]
    job = await finished_job(
        gql, services, tenant, (await push(gql, tenant, [person], "audience"))["job"]["id"]
    )
    assert [(e["path"], e["code"]) for e in job["errors"]["nodes"]] == [
        ("records[0].email", "email_or_phone_required")
    ]


async def test_records_page_with_cursors(gql, services, tenant):
    await finished_job(
        gql,
        services,
        tenant,
        (await push(gql, tenant, [shopify_product(n) for n in range(7)]))["job"]["id"],
    )
    seen, after = [], None
    while True:
        data = await gql(
            RECORDS_QUERY, {"entity": "PRODUCT", "first": 3, "after": after}, key=tenant.secret
        )
        page = data["records"]
        seen += [node["externalId"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(shopify_product(n)["external_id"] for n in range(7))
    assert len(seen) == 7


JOBS_QUERY = """query Jobs($first: Int!, $after: String, $status: JobStatus, $entity: Entity) {
  jobs(first: $first, after: $after, status: $status, entity: $entity) {
    nodes { id status entity }
    pageInfo { endCursor hasNextPage }
  }
}"""


async def test_jobs_are_listed_newest_first_filtered_and_paged(gql, services, tenant):
    ok = [(await push(gql, tenant, [shopify_product(n)]))["job"]["id"] for n in range(3)]
    failed = (await push(gql, tenant, [{"external_id": "broken"}]))["job"]["id"]
    person = {
        "external_id": "7",
        "source_platform": "custom",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "phone": "+351912345678",
    }
    audience = (await push(gql, tenant, [person], "audience"))["job"]["id"]
    await drain(services)

    everything = await gql(JOBS_QUERY, {"first": 50}, key=tenant.secret)
    assert [job["id"] for job in everything["jobs"]["nodes"]] == [audience, failed, *ok[::-1]]
    only_failed = await gql(JOBS_QUERY, {"first": 50, "status": "FAILED"}, key=tenant.secret)
    assert [job["id"] for job in only_failed["jobs"]["nodes"]] == [failed]
    only_audience = await gql(JOBS_QUERY, {"first": 50, "entity": "AUDIENCE"}, key=tenant.secret)
    assert [job["id"] for job in only_audience["jobs"]["nodes"]] == [audience]

    first_page = await gql(JOBS_QUERY, {"first": 2, "entity": "PRODUCT"}, key=tenant.secret)
    assert first_page["jobs"]["pageInfo"]["hasNextPage"] is True
    after = first_page["jobs"]["pageInfo"]["endCursor"]
    second_page = await gql(
        JOBS_QUERY, {"first": 2, "entity": "PRODUCT", "after": after}, key=tenant.secret
    )
    paged = first_page["jobs"]["nodes"] + second_page["jobs"]["nodes"]
    assert [job["id"] for job in paged] == [failed, *ok[::-1]]
    assert second_page["jobs"]["pageInfo"]["hasNextPage"] is False


async def test_page_sizes_and_cursors_are_checked(gql, tenant):
    response = await gql.raw(JOBS_QUERY, {"first": 501}, key=tenant.secret)
    assert response.json()["errors"][0]["extensions"]["code"] == "invalid_page_size"
    response = await gql.raw(JOBS_QUERY, {"first": 5, "after": "%%%"}, key=tenant.secret)
    assert response.json()["errors"][0]["extensions"]["code"] == "invalid_cursor"
