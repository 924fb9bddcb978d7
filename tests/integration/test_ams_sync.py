"""Writing the catalog to the client's AMS: a new client's first push ends provisioned, written
and PRODUCTION_READY with nothing done by hand. The gateway runs as a real HTTP server; the
Airtable emulator is reached by pyairtable over HTTP, and every request it receives is recorded
at its door (so counts do not depend on the code under test)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from pyairtable import Api
from sqlalchemy import select

from app.ams.due import mark_sync_due
from app.ams.fieldmap import FieldMapError, table_maps
from app.ams.service import AmsRuntime, run_sync
from app.contracts.entities import Entity
from app.integrations.sandbox_tokens import sandbox_token
from app.provisioning import templates
from app.records.service import upsert
from app.records.validation import validate_record
from app.sandbox.airtable.models import SandboxTable
from app.services import Services
from app.settings import ROOT_DIR, Settings
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.helpers import AirtableRequest as AirtableRequest
from tests.helpers import AirtableTraffic as AirtableTraffic
from tests.helpers import Gateway as Gateway
from tests.helpers import eventually as eventually
from tests.helpers import free_port as _free_port  # noqa: F401 (other test modules import it)
from tests.helpers import ingest_mutation, serve, served_gateway, shopify_product

VIEWER = """{ viewer {
  amsConfig
  onboarding { status reason connectedAt firstSyncAt validatedAt productionReadyAt }
  amsSync {
    entities { entity lastSyncedAt written unchanged rejected airtableRequests pending error
               platforms { platform lastSyncedAt } }
    records(status: REJECTED) { nodes { externalId status errorType errorMessage } }
  }
} }"""
PROVISION = "mutation { provisionClient { provisioning { baseId } errors { code message } } }"
SYNC_COLUMNS = {"External ID", "Source", "Source Updated At", "Synced At"}


EVENTS = """query($type: String) { events(type: $type, first: 100) { nodes { type body } } }"""
USAGE = """query($from: Date!, $to: Date!) {
  viewer { usage(from: $from, to: $to) { metric value } }
}"""


def ams_settings(base: Settings, **overrides: Any) -> Settings:
    """Fast sandbox limits, quick retries of due syncs."""
    values: dict[str, Any] = {
        "ams_airtable_requests_per_second": 1000.0,
        "ams_sync_redispatch_after_seconds": 0.3,
        "ams_airtable_penalty_seconds": 0.2,
        "sandbox_airtable_penalty_seconds": 0.2,
    }
    return base.model_copy(update=values | overrides)


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def viewer(gateway: Gateway, tenant: Tenant) -> dict[str, Any]:
    data: dict[str, Any] = (await gateway.gql(VIEWER, key=tenant.secret))["viewer"]
    return data


def entity_sync(view: dict[str, Any], entity: str = "PRODUCT") -> dict[str, Any] | None:
    found = [e for e in view["amsSync"]["entities"] if e["entity"] == entity]
    return found[0] if found else None


async def push(gateway: Gateway, tenant: Tenant, records: list[dict[str, Any]]) -> str:
    data = await gateway.gql(
        ingest_mutation("product"), {"input": {"records": records}}, key=tenant.secret
    )
    payload = data["ingestProducts"]
    assert payload["errors"] == [], payload
    return str(payload["job"]["id"])


async def synced_after(gateway: Gateway, tenant: Tenant, since: str | None) -> dict[str, Any]:
    """The viewer once a product sync finished after `since` and nothing is pending."""

    async def done() -> dict[str, Any] | None:
        view = await viewer(gateway, tenant)
        state = entity_sync(view)
        if state is None or state["pending"] or not state["lastSyncedAt"]:
            return None
        return view if since is None or state["lastSyncedAt"] > since else None

    await eventually(done)
    # Viewer fields resolve in their own sessions: the view that saw the sync finish may have read
    # onboarding a moment before. Nothing is pending now, so a second read is settled.
    return await viewer(gateway, tenant)


def airtable_rows(gateway: Gateway, tenant: Tenant, base_id: str) -> list[dict[str, Any]]:
    """The Products table, read with the real pyairtable and the client's sandbox token."""
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    api = Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable")
    return [row["fields"] for row in api.table(base_id, "Products").all()]


def base_of(view: dict[str, Any]) -> str:
    return str(view["amsConfig"]["server"]["airtable"]["base_id"])


async def test_a_new_clients_first_push_ends_production_ready_with_the_catalog_in_airtable(
    gateway, services
):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    catalog = [shopify_product(n) for n in range(25)]

    await push(gateway, acme, catalog)

    view = await eventually(
        lambda: _when(
            viewer(gateway, acme), lambda v: v["onboarding"]["status"] == "PRODUCTION_READY"
        )
    )
    onboarding = view["onboarding"]
    assert onboarding["reason"] is None
    assert (
        onboarding["connectedAt"]
        <= onboarding["firstSyncAt"]
        <= onboarding["validatedAt"]
        <= onboarding["productionReadyAt"]
    )
    state = entity_sync(view)
    assert state is not None
    assert (state["written"], state["rejected"], state["pending"]) == (25, 0, False)
    assert state["platforms"][0]["platform"] == "shopify"
    assert len([w for w in gateway.traffic.writes() if w.status == 200]) == 3  # 10 + 10 + 5

    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(view))
    by_id = {row["External ID"]: row for row in rows}
    assert sorted(by_id) == sorted(p["external_id"] for p in catalog)
    first = by_id[catalog[0]["external_id"]]
    assert first["Name"] == "Linen Shirt 0"
    assert first["Price"] == 49.9 and first["Currency"] == "EUR"
    assert first["Source"] == "shopify"
    assert set(first["Tags"]) == {"summer", "linen", "bestseller"}
    assert first["Image URLs"].splitlines()[0].endswith("/0/front.jpg")
    assert set(first) >= SYNC_COLUMNS

    # The writes are announced (product.synced, per batch) and metered (ams.writes).
    events = await gateway.gql(EVENTS, {"type": "product.synced"}, key=acme.secret)
    announced = [event["body"]["data"] for event in events["events"]["nodes"]]
    assert sorted(i for data in announced for i in data["external_ids"]) == sorted(by_id)
    assert {data["base_id"] for data in announced} == {base_of(view)}
    day = datetime.now(UTC).date().isoformat()
    usage = await gateway.gql(USAGE, {"from": day, "to": day}, key=acme.secret)
    metered = {row["metric"]: row["value"] for row in usage["viewer"]["usage"]}
    assert metered["ams.writes"] == 25


async def _when(
    view: Awaitable[dict[str, Any]], condition: Callable[[dict[str, Any]], bool]
) -> Any:
    found = await view
    return found if condition(found) else None


async def test_an_unchanged_repush_sends_no_write_and_a_change_sends_only_that_field(
    gateway, services
):
    acme = await create_tenant(services, "Acme", "test")
    catalog = [shopify_product(n) for n in range(12)]
    await push(gateway, acme, catalog)
    first = await synced_after(gateway, acme, None)
    before = len(gateway.traffic.writes())

    await push(gateway, acme, catalog)  # the same catalog again
    again = await synced_after(gateway, acme, entity_sync(first)["lastSyncedAt"])

    assert len(gateway.traffic.writes()) == before
    assert (entity_sync(again)["written"], entity_sync(again)["unchanged"]) == (0, 12)

    changed = shopify_product(3, updated_at="2026-11-02T10:00:00Z")
    changed["price"] = {"amount": "39.90", "currency": "EUR"}
    await push(gateway, acme, [changed])
    await synced_after(gateway, acme, entity_sync(again)["lastSyncedAt"])

    writes = gateway.traffic.writes()[before:]
    assert len(writes) == 1
    sent = writes[0].body["records"]
    assert len(sent) == 1
    assert set(sent[0]["fields"]) == {"Price"} | SYNC_COLUMNS
    assert sent[0]["fields"]["Price"] == 39.9
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(first))
    row = next(r for r in rows if r["External ID"] == changed["external_id"])
    assert row["Price"] == 39.9 and row["Name"] == "Linen Shirt 3"
    assert len(rows) == 12


async def _retype_column(services: Services, base_id: str, table: str, column: str, kind: str):
    """Someone changed a column's type in the client's base (the AMS is theirs to edit)."""
    async with services.sessions() as session, session.begin():
        row = await session.scalar(
            select(SandboxTable).where(SandboxTable.base_id == base_id, SandboxTable.name == table)
        )
        definition = dict(row.definition)
        fields = [dict(f) for f in definition["fields"]]
        for spec in fields:
            if spec["name"] == column:
                spec["type"] = kind
                spec["options"] = {"precision": 0}
        definition["fields"] = fields
        row.definition = definition


async def test_a_record_airtable_refuses_is_rejected_and_its_batch_neighbours_are_written(
    gateway, services
):
    acme = await create_tenant(services, "Acme", "test")
    provisioned = (await gateway.gql(PROVISION, key=acme.secret))["provisionClient"]
    base_id = provisioned["provisioning"]["baseId"]
    await _retype_column(services, base_id, "Products", "SKU", "number")
    catalog = [shopify_product(n, sku=f"{1000 + n}") for n in range(10)]
    catalog[6]["sku"] = "LS-00006"  # no longer a number the column takes

    await push(gateway, acme, catalog)
    view = await synced_after(gateway, acme, None)

    state = entity_sync(view)
    assert (state["written"], state["rejected"]) == (9, 1)
    [rejected] = view["amsSync"]["records"]["nodes"]
    assert rejected["externalId"] == catalog[6]["external_id"]
    assert rejected["status"] == "REJECTED"
    assert rejected["errorType"] == "INVALID_VALUE_FOR_COLUMN"
    assert "SKU" in rejected["errorMessage"]
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    assert sorted(r["External ID"] for r in rows) == sorted(
        p["external_id"] for i, p in enumerate(catalog) if i != 6
    )
    onboarding = view["onboarding"]
    assert onboarding["status"] == "VALIDATED"
    assert "rejected by Airtable" in onboarding["reason"]


async def test_a_mostly_quarantined_first_push_stays_before_validated_with_the_reason(
    gateway, services
):
    acme = await create_tenant(services, "Acme", "test")
    broken = [{"external_id": f"b-{n}", "source_platform": "shopify"} for n in range(3)]

    await push(gateway, acme, [shopify_product(1), *broken])
    view = await synced_after(gateway, acme, None)

    assert view["onboarding"]["status"] == "FIRST_SYNC"
    assert "75.0% of the records pushed were quarantined" in view["onboarding"]["reason"]
    assert view["amsConfig"] is not None  # provisioned all the same


@pytest.fixture
async def throttled_gateway(fast_sandbox_settings: Settings) -> AsyncIterator[Gateway]:
    """The emulator allows 2 requests/s per base; the gateway is told it may send far more."""
    throttled = ams_settings(
        fast_sandbox_settings, sandbox_airtable_requests_per_second=2.0, ams_write_concurrency=1
    )
    served = serve(throttled)
    url, server_settings, traffic = next(served)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield Gateway(url, server_settings, traffic, GraphQL(client))
    finally:
        next(served, None)


async def test_a_429_backs_off_and_every_record_lands_once(throttled_gateway, services):
    gateway = throttled_gateway
    acme = await create_tenant(services, "Acme", "test")
    catalog = [shopify_product(n) for n in range(60)]

    await push(gateway, acme, catalog)
    view = await synced_after(gateway, acme, None)

    refused = [r for r in gateway.traffic.requests if r.status == 429]
    assert refused, "the emulator never said 429: the test did not exercise back-off"
    assert entity_sync(view)["written"] == 60
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(view))
    ids = [row["External ID"] for row in rows]
    assert sorted(ids) == sorted(p["external_id"] for p in catalog)  # none twice


async def _store_catalog(services: Services, tenant: TenantScope, count: int) -> None:
    """Canonical records as a finished job leaves them, with the sync marked due."""
    valid = [
        validate_record(Entity.PRODUCT, orjson.dumps(shopify_product(n))) for n in range(count)
    ]
    async with services.sessions() as session, session.begin():
        await upsert(session, tenant, Entity.PRODUCT, "job_direct", valid)  # type: ignore[arg-type]
        await mark_sync_due(session, tenant, Entity.PRODUCT)


async def test_two_syncs_of_one_tenant_at_once_write_each_record_once(gateway, services):
    acme = await create_tenant(services, "Acme", "test")
    scope = TenantScope(acme.client_id, livemode=False)
    await _store_catalog(services, scope, 25)
    runtime = AmsRuntime.create(gateway.settings, services.sessions)

    try:
        runs = await asyncio.gather(*(run_sync(runtime, scope, Entity.PRODUCT) for _ in range(2)))
    finally:
        await runtime.close()
    view = await synced_after(gateway, acme, None)

    assert sum(run is not None for run in runs) <= 1
    assert len([w for w in gateway.traffic.writes() if w.status == 200]) == 3
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(view))
    assert len(rows) == len({row["External ID"] for row in rows}) == 25


async def test_an_archived_product_is_archived_in_airtable(gateway, services):
    acme = await create_tenant(services, "Acme", "test")
    await push(gateway, acme, [shopify_product(n) for n in range(3)])
    first = await synced_after(gateway, acme, None)

    archived = shopify_product(1, updated_at="2026-11-03T10:00:00Z", status="archived")
    await push(gateway, acme, [archived])
    await synced_after(gateway, acme, entity_sync(first)["lastSyncedAt"])

    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(first))
    status = {row["External ID"]: row["Status"] for row in rows}
    assert status[archived["external_id"]] == "archived"
    assert sorted(status.values()) == ["active", "active", "archived"]


def test_the_field_map_fits_the_base_template(tmp_path):
    maps = table_maps(ROOT_DIR / "contracts")
    template = {t["name"]: t for t in templates.base_tables(ROOT_DIR / "contracts")}
    for entity, table_map in maps.items():
        columns = {f["name"] for f in template[table_map.table]["fields"]}
        assert {c.name for c in table_map.columns} | set(table_map.sync_fields) <= columns, entity
    assert set(maps) == set(Entity)

    broken = tmp_path / "contracts"
    (broken / "ams").mkdir(parents=True)
    for name in ("airtable-base.json", "airtable-fields.json"):
        (broken / "ams" / name).write_bytes((ROOT_DIR / "contracts" / "ams" / name).read_bytes())
    document = orjson.loads((broken / "ams" / "airtable-fields.json").read_bytes())
    document["entities"]["product"]["fields"]["Colour"] = {"from": "attributes.colour"}
    (broken / "ams" / "airtable-fields.json").write_bytes(orjson.dumps(document))
    with pytest.raises(FieldMapError, match="Colour"):
        table_maps(broken)
