"""The reconciliation audit: someone edits, deletes and duplicates rows in a client's AMS base
(through the real pyairtable client, as a person or a script would); an operator's audit finds
exactly those, counts them in Prometheus and tells the client (counts only); a repair has the
normal AMS sync rewrite them and removes the duplicate; the next audit is clean.

The gateway runs as a real HTTP server with its Airtable emulator (SQLite and PostgreSQL)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pyairtable import Api

from app.integrations.sandbox_tokens import sandbox_token
from app.reconciliation.sampling import sample_size
from app.settings import Settings
from tests.conftest import REDIS_URL, GraphQL, Tenant, create_tenant, require_service
from tests.helpers import Gateway, serve, served_gateway, shopify_product
from tests.integration.test_ams_sync import (
    ams_settings,
    base_of,
    entity_sync,
    push,
    synced_after,
)
from tests.integration.test_key_lifecycle import operator_key

RECONCILE = """mutation($input: ReconcileInput!) { reconcile(input: $input) {
  errors { code message path }
  run { id entity full repair trigger status error population checked pending rowsRead
        missing extra duplicate field requeued deleted airtableRequests
        mismatches(first: 100) { nodes { kind sourcePlatform externalId airtableRecordId columns } }
  }
} }"""
RUNS = """query($client: ID!) { reconciliationRuns(client: $client, first: 10) {
  nodes { id status missing extra duplicate field }
  pageInfo { hasNextPage endCursor }
} }"""
RUN = """query($id: ID!) { reconciliationRun(id: $id) {
  id clientId mismatches(first: 1) { nodes { kind } pageInfo { hasNextPage endCursor } }
} }"""
VIEWER = """{ viewer { reconciliation { entity full status checked missing extra duplicate field }
  amsSync { entities { entity lastSyncedAt pending } } } }"""
EVENTS = """{ events(type: "reconciliation.mismatched", first: 10) { nodes { type body } } }"""


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings, reconciliation_enabled=False)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings, http_timeout=120) as served:
        yield served


def products_table(gateway: Gateway, tenant: Tenant, base_id: str) -> Any:
    """The client's Products table through the real pyairtable client and its sandbox token."""
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    return Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable").table(base_id, "Products")


def row_ids(table: Any) -> dict[str, str]:
    return {row["fields"]["External ID"]: row["id"] for row in table.all()}


async def catalog_in_the_base(gateway: Gateway, count: int) -> tuple[Tenant, str, Any]:
    acme = await create_tenant_over_http(gateway)
    await push(gateway, acme, [shopify_product(n) for n in range(count)])
    view = await synced_after(gateway, acme, None)
    return acme, base_of(view), products_table(gateway, acme, base_of(view))


async def create_tenant_over_http(gateway: Gateway) -> Tenant:
    from app.services import Services

    services = Services.create(gateway.settings)
    try:
        return await create_tenant(services, "Acme Outdoor", "test")
    finally:
        await services.engine.dispose()


async def reconcile(gateway: Gateway, operator: str, tenant: Tenant, **options: Any) -> Any:
    variables = {"input": {"client": tenant.client_id, "entity": "PRODUCT", **options}}
    payload = (await gateway.gql(RECONCILE, variables, key=operator))["reconcile"]
    assert payload["errors"] == [], payload
    return payload["run"]


def found(run: dict[str, Any]) -> set[tuple[str, str, str | None, tuple[str, ...]]]:
    return {
        (m["kind"], m["externalId"], m["airtableRecordId"], tuple(m["columns"]))
        for m in run["mismatches"]["nodes"]
    }


async def operator_for(gateway: Gateway) -> str:
    from app.services import Services

    services = Services.create(gateway.settings)
    try:
        return await operator_key(services)
    finally:
        await services.engine.dispose()


def product_id(number: int) -> str:
    return str(shopify_product(number)["external_id"])


async def test_an_audit_finds_exactly_the_tampered_rows_and_a_repair_makes_the_next_clean(
    gateway,
):
    acme, _, table = await catalog_in_the_base(gateway, 30)
    operator = await operator_for(gateway)
    rows = await asyncio.to_thread(row_ids, table)
    edited, deleted, doubled = product_id(3), product_id(5), product_id(7)
    await asyncio.to_thread(table.update, rows[edited], {"Name": "Tampered", "Price": 1.5})
    await asyncio.to_thread(table.delete, rows[deleted])
    copy = await asyncio.to_thread(
        table.create, {"External ID": doubled, "Source": "shopify", "Name": "Linen Shirt 7"}
    )

    run = await reconcile(gateway, operator, acme, full=True)

    assert found(run) == {
        ("FIELD", edited, rows[edited], ("Name", "Price")),
        ("MISSING", deleted, None, ()),
        ("DUPLICATE", doubled, copy["id"], ()),
    }
    assert (run["status"], run["missing"], run["extra"], run["duplicate"], run["field"]) == (
        "SUCCEEDED",
        1,
        0,
        1,
        1,
    )
    assert (run["population"], run["checked"], run["pending"], run["rowsRead"]) == (30, 30, 0, 30)
    assert run["requeued"] == run["deleted"] == 0  # an audit alone changes nothing
    metrics = (await gateway.gql.client.get("/metrics")).text
    assert 'gateway_reconciliation_mismatches{entity="product",kind="field"} 1.0' in metrics
    assert 'gateway_reconciliation_mismatches{entity="product",kind="missing"} 1.0' in metrics
    events = (await gateway.gql(EVENTS, key=acme.secret))["events"]["nodes"]
    data = events[0]["body"]["data"]
    assert (data["missing"], data["duplicate"], data["field"], data["full"]) == (1, 1, 1, True)
    assert edited not in str(events)  # counts only, no record data

    state = entity_sync(await synced_after(gateway, acme, None))
    assert state is not None
    before = state["lastSyncedAt"]
    repaired = await reconcile(gateway, operator, acme, full=True, repair=True)
    assert (repaired["requeued"], repaired["deleted"]) == (2, 1)
    await synced_after(gateway, acme, before)

    after = await reconcile(gateway, operator, acme, full=True)
    assert found(after) == set()
    assert after["checked"] == 30
    rows_now = await asyncio.to_thread(table.all)
    assert len(rows_now) == 30
    by_id = {row["fields"]["External ID"]: row["fields"] for row in rows_now}
    assert (by_id[edited]["Name"], by_id[edited]["Price"]) == ("Linen Shirt 3", 49.9)
    assert by_id[deleted]["Name"] == "Linen Shirt 5"
    metrics = (await gateway.gql.client.get("/metrics")).text
    assert 'gateway_reconciliation_mismatches{entity="product",kind="field"} 0.0' in metrics
    summary = (await gateway.gql(VIEWER, key=acme.secret))["viewer"]["reconciliation"]
    assert summary == [
        {
            "entity": "PRODUCT",
            "full": True,
            "status": "SUCCEEDED",
            "checked": 30,
            "missing": 0,
            "extra": 0,
            "duplicate": 0,
            "field": 0,
        }
    ]


async def test_a_sample_checks_its_share_and_only_a_full_run_reports_unknown_rows(gateway):
    acme, _, table = await catalog_in_the_base(gateway, 12)
    operator = await operator_for(gateway)
    stranger = {"External ID": "ghost-1", "Source": "shopify", "Name": "Not from the gateway"}
    ghost = await asyncio.to_thread(table.create, stranger)

    sampled = await reconcile(gateway, operator, acme)
    assert (sampled["full"], sampled["population"]) == (False, 12)
    assert sampled["checked"] == sample_size(12, 0.01, 0.95)
    assert found(sampled) == set()

    full = await reconcile(gateway, operator, acme, full=True, repair=True)
    assert found(full) == {("EXTRA", "ghost-1", ghost["id"], ())}
    assert (full["requeued"], full["deleted"]) == (0, 0)  # a row we do not know is not ours
    assert len(await asyncio.to_thread(table.all)) == 13

    runs = await gateway.gql(RUNS, {"client": acme.client_id}, key=operator)
    listed = runs["reconciliationRuns"]["nodes"]
    assert [r["id"] for r in listed] == [full["id"], sampled["id"]]  # newest first
    one = (await gateway.gql(RUN, {"id": full["id"]}, key=operator))["reconciliationRun"]
    assert one["clientId"] == acme.client_id
    assert one["mismatches"]["nodes"] == [{"kind": "EXTRA"}]


async def test_operators_only_and_unknown_clients_and_bases_are_refused(gateway):
    acme = await create_tenant_over_http(gateway)
    operator = await operator_for(gateway)

    refused = await gateway.gql.raw(RUNS, {"client": acme.client_id}, key=acme.secret)
    assert refused.json()["errors"][0]["extensions"]["code"] == "operator_only"
    variables = {"input": {"client": "cli_missing", "entity": "PRODUCT"}}
    unknown = (await gateway.gql(RECONCILE, variables, key=operator))["reconcile"]
    assert unknown["errors"][0]["code"] == "not_found"
    assert unknown["errors"][0]["path"] == "client"
    variables = {"input": {"client": acme.client_id, "entity": "PRODUCT"}}
    bare = (await gateway.gql(RECONCILE, variables, key=operator))["reconcile"]
    assert bare["errors"][0]["code"] == "ams_not_provisioned"
    missing = await gateway.gql(RUN, {"id": "rcn_missing"}, key=operator)
    assert missing["reconciliationRun"] is None


async def test_the_daily_audit_samples_each_synced_entity_once_per_interval(gateway):
    from app.reconciliation.runner import run_due_audits
    from app.services import Services

    acme, _, table = await catalog_in_the_base(gateway, 5)
    rows = await asyncio.to_thread(row_ids, table)
    await asyncio.to_thread(table.update, rows[product_id(1)], {"SKU": "changed by hand"})
    services = Services.create(gateway.settings)
    try:
        first = await run_due_audits(services.sessions, services.settings)
        again = await run_due_audits(services.sessions, services.settings)
    finally:
        await services.engine.dispose()

    assert first == {"runs": 1, "mismatched": 1, "failed": 0}
    assert again == {"runs": 0, "mismatched": 0, "failed": 0}  # done for this interval
    summary = (await gateway.gql(VIEWER, key=acme.secret))["viewer"]["reconciliation"]
    assert [(s["full"], s["checked"], s["field"]) for s in summary] == [(False, 5, 1)]


@pytest.fixture
async def scale_out_gateway(postgres_database: str) -> AsyncIterator[Gateway]:
    """The API with Redis: repairs are enqueued for arq workers, pacing is shared in Redis."""
    from tests.conftest import _truncate_all
    from tests.helpers import arq_settings

    await _truncate_all(postgres_database)
    redis_url = require_service(REDIS_URL, "redis")
    async with arq_settings(postgres_database, redis_url) as base:
        fast = base.model_copy(
            update={"sandbox_airtable_requests_per_second": 1000.0, "secret_key": "test-secret"}
        )
        served = serve(ams_settings(fast))
        url, server_settings, traffic = next(served)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                yield Gateway(url, server_settings, traffic, GraphQL(client))
        finally:
            next(served, None)


@pytest.mark.postgres
@pytest.mark.redis
async def test_scale_out_a_repair_is_written_by_an_arq_worker_and_the_cron_task_audits(
    scale_out_gateway,
):
    from app.services import Services
    from tests.helpers import burst_worker
    from workers.arq_worker import reconcile_due

    gateway = scale_out_gateway
    acme = await create_tenant_over_http(gateway)
    await push(gateway, acme, [shopify_product(n) for n in range(15)])
    await burst_worker(gateway.settings)  # the job, then the sync it enqueues
    view = await synced_after(gateway, acme, None)
    table = products_table(gateway, acme, base_of(view))
    rows = await asyncio.to_thread(row_ids, table)
    await asyncio.to_thread(table.delete, rows[product_id(2)])
    operator = await operator_for(gateway)

    repaired = await reconcile(gateway, operator, acme, full=True, repair=True)
    assert (repaired["missing"], repaired["requeued"]) == (1, 1)
    await burst_worker(gateway.settings)  # the sync the repair enqueued

    assert found(await reconcile(gateway, operator, acme, full=True)) == set()
    services = Services.create(gateway.settings)
    try:
        audited = await reconcile_due(
            {"sessions": services.sessions, "settings": services.settings}
        )
    finally:
        await services.engine.dispose()
    assert audited == {"runs": 1, "mismatched": 0, "failed": 0}
