"""Records deleted at their source are archived: kept in the store, and their AMS rows get the
Archived column checked (read back with the real pyairtable over HTTP); a record pushed again is
alive again. A full resync pass archives what it did not see when it completes."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.services import Services
from app.settings import Settings
from tests.conftest import Tenant, create_tenant
from tests.helpers import Gateway, served_gateway, shopify_product
from tests.integration.test_ams_sync import (
    airtable_rows,
    ams_settings,
    base_of,
    entity_sync,
    push,
    synced_after,
)

ARCHIVE = """mutation($input: ArchiveRecordsInput!) {
  archiveRecords(input: $input) { archived errors { code message path } }
}"""
REQUEST = """mutation { requestFullResync(entity: PRODUCT) {
  fullResync { id status } errors { code message } } }"""
COMPLETE = """mutation { completeFullResync(entity: PRODUCT) {
  fullResync { id status seen archived completedAt } errors { code message } } }"""
RECORDS = """{ records(entity: PRODUCT, first: 100) { nodes { externalId } } }"""


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


def _last_sync(view: dict[str, Any]) -> str:
    state = entity_sync(view)
    assert state is not None
    return str(state["lastSyncedAt"])


async def _archived_column(gateway: Gateway, tenant: Tenant, base_id: str) -> dict[str, bool]:
    rows = await asyncio.to_thread(airtable_rows, gateway, tenant, base_id)
    return {row["External ID"]: bool(row.get("Archived")) for row in rows}


async def _catalog(gateway: Gateway, tenant: Tenant, count: int) -> dict[str, Any]:
    await push(gateway, tenant, [shopify_product(n) for n in range(count)])
    return await synced_after(gateway, tenant, None)


async def test_archived_records_are_kept_and_marked_archived_in_airtable(
    gateway: Gateway, services: Services
) -> None:
    acme = await create_tenant(services, "Acme", "test")
    view = await _catalog(gateway, acme, 3)
    one, two = shopify_product(1)["external_id"], shopify_product(2)["external_id"]

    keys = [
        {"sourcePlatform": "SHOPIFY", "externalId": one},
        {"sourcePlatform": "SHOPIFY", "externalId": "never-pushed"},
    ]
    data = await gateway.gql(
        ARCHIVE, {"input": {"entity": "PRODUCT", "records": keys}}, key=acme.secret
    )
    answer = data["archiveRecords"]
    assert answer["archived"] == 1
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("not_found", "records[1]")]
    view = await synced_after(gateway, acme, _last_sync(view))
    archived = await _archived_column(gateway, acme, base_of(view))
    assert archived == {shopify_product(n)["external_id"]: n == 1 for n in range(3)}
    stored = await gateway.gql(RECORDS, key=acme.secret)
    assert len(stored["records"]["nodes"]) == 3  # archived, not deleted

    # The REST door; archiving again counts nothing new.
    headers = {"Authorization": f"Bearer {acme.secret}"}
    body = {"records": [{"source_platform": "shopify", "external_id": e} for e in (one, two)]}
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        response = await client.post("/ingest/products/archive", json=body, headers=headers)
        unknown = await client.post("/ingest/widgets/archive", json=body, headers=headers)
        invalid = await client.post(
            "/ingest/products/archive", json={"records": [{"external_id": 1}]}, headers=headers
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"archived": 1, "errors": []}
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert invalid.status_code == 400 and invalid.json()["error"]["code"]
    view = await synced_after(gateway, acme, _last_sync(view))
    assert (await _archived_column(gateway, acme, base_of(view)))[two] is True

    # Pushed again with a newer source_updated_at: alive again, the column is cleared.
    await push(gateway, acme, [shopify_product(1, updated_at="2099-01-01T00:00:00Z")])
    view = await synced_after(gateway, acme, _last_sync(view))
    archived = await _archived_column(gateway, acme, base_of(view))
    assert (archived[one], archived[two]) == (False, True)


async def test_another_clients_records_are_not_found(gateway: Gateway, services: Services) -> None:
    acme = await create_tenant(services, "Acme", "test")
    other = await create_tenant(services, "Other", "test")
    await _catalog(gateway, acme, 1)

    keys = [{"sourcePlatform": "SHOPIFY", "externalId": shopify_product(0)["external_id"]}]
    variables = {"input": {"entity": "PRODUCT", "records": keys}}
    data = await gateway.gql(ARCHIVE, variables, key=other.secret)
    assert data["archiveRecords"]["archived"] == 0
    assert data["archiveRecords"]["errors"][0]["code"] == "not_found"


async def test_a_full_resync_archives_what_the_pass_did_not_see(
    gateway: Gateway, services: Services
) -> None:
    acme = await create_tenant(services, "Acme", "test")
    view = await _catalog(gateway, acme, 4)
    gone = shopify_product(2)["external_id"]

    nothing = await gateway.gql(COMPLETE, key=acme.secret)
    assert nothing["completeFullResync"]["errors"][0]["code"] == "no_open_resync"
    opened = (await gateway.gql(REQUEST, key=acme.secret))["requestFullResync"]["fullResync"]
    again = (await gateway.gql(REQUEST, key=acme.secret))["requestFullResync"]["fullResync"]
    assert again["id"] == opened["id"] and opened["status"] == "OPEN"
    await push(gateway, acme, [shopify_product(n) for n in (0, 1, 3)])  # unchanged: no write
    view = await synced_after(gateway, acme, _last_sync(view))

    done = (await gateway.gql(COMPLETE, key=acme.secret))["completeFullResync"]
    assert done["errors"] == []
    assert (done["fullResync"]["status"], done["fullResync"]["seen"]) == ("COMPLETED", 3)
    assert done["fullResync"]["archived"] == 1
    view = await synced_after(gateway, acme, _last_sync(view))
    archived = await _archived_column(gateway, acme, base_of(view))
    assert [external_id for external_id, flag in archived.items() if flag] == [gone]

    # A later pass that sees it again brings it back.
    await gateway.gql(REQUEST, key=acme.secret)
    await push(gateway, acme, [shopify_product(n) for n in range(4)])
    view = await synced_after(gateway, acme, _last_sync(view))
    done = (await gateway.gql(COMPLETE, key=acme.secret))["completeFullResync"]
    assert (done["fullResync"]["seen"], done["fullResync"]["archived"]) == (4, 0)
    view = await synced_after(gateway, acme, _last_sync(view))
    assert not any((await _archived_column(gateway, acme, base_of(view))).values())
