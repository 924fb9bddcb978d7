"""A WooCommerce variation read on its own updates its parent product's variant: through
ingestRaw, a WooCommerce webhook and a quarantine replay, whichever arrives first, on both
backends."""

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord, VariantUpdate
from app.records import storing, variations
from app.records.storing import store_records
from app.records.validation import ValidRecord, validate_record
from app.retention.purge import purge_all
from app.services import Services
from app.settings import ROOT_DIR
from app.tenancy import service as tenancy
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.fixtures.platforms import PAGES
from tests.integration.test_ingest_pipeline import finished_job, push, stored
from tests.integration.test_ingest_raw import push_raw
from tests.integration.test_quarantine import FIX, REPLAY, SKU_FORMAT, listing, set_rules
from tests.integration.test_webhooks import WOO_SECRET, connect, path_of, woo_headers

PRODUCTS = next(page for page in PAGES if page.name == "woocommerce/products")
VARIATIONS = next(page for page in PAGES if page.name == "woocommerce/variations")
# What the variations say as the beanie's variants (their golden records' own variant).
GREY, NAVY = (golden["data"]["variants"][0] for golden in VARIATIONS.expected())

JOB_EVENTS = """{ events(type: "job.completed", first: 10) { nodes { body } } }"""
RESOLUTIONS = """query History($platform: SourcePlatform, $id: String) {
  recordResolutions(entity: PRODUCT, sourcePlatform: $platform, externalId: $id) {
    nodes { kind field jobId detail }
  }
}"""


@pytest.fixture
async def berlin_client(services: Services, tenant: Tenant) -> None:
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(
            session, tenant.client_id, currency="EUR", region="DE", timezone="Europe/Berlin"
        )


async def pushed(
    gql: GraphQL, services: Services, tenant: Tenant, records: list[Any]
) -> dict[str, Any]:
    payload = await push_raw(gql, tenant, records, platform="WOOCOMMERCE", entity="PRODUCT")
    assert payload["errors"] == []
    return await finished_job(gql, services, tenant, payload["job"]["id"])


async def beanie(gql: GraphQL, tenant: Tenant) -> dict[str, Any]:
    [found] = await stored(gql, tenant, ["812"])
    return found


async def history(gql: GraphQL, tenant: Tenant, external_id: str = "812") -> list[Any]:
    variables = {"platform": "WOOCOMMERCE", "id": external_id}
    data = await gql(RESOLUTIONS, variables, key=tenant.secret)
    return list(data["recordResolutions"]["nodes"])


def variation(number: int, **changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(VARIATIONS.records()[number])
    found.update(changes)
    return dict(found)


def counted(job: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """valid, written, unchanged, stale, held: the valid ones are each one of the others."""
    c = job["counters"]
    assert c["valid"] == c["written"] + c["unchanged"] + c["stale"] + c["held"]
    return c["valid"], c["written"], c["unchanged"], c["stale"], c["held"]


async def test_variations_after_their_parent_update_its_variants(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    before = await beanie(gql, tenant)
    assert before["data"]["variants"] == []  # WooCommerce lists variations by id only

    job = await pushed(gql, services, tenant, VARIATIONS.records())
    assert job["status"] == "SUCCEEDED"
    assert counted(job) == (2, 2, 0, 0, 0)
    after = await beanie(gql, tenant)
    assert after["data"]["variants"] == [GREY, NAVY]
    assert after["version"] == before["version"] + 1  # both variants, one write
    assert after["data"]["name"] == before["data"]["name"]
    assert await stored(gql, tenant, ["813", "814"]) == []  # not products of their own
    async with services.sessions() as session:
        pending = await session.scalar(
            select(CanonicalRecord.sync_pending).where(CanonicalRecord.external_id == "812")
        )
    assert pending is True
    updates = await history(gql, tenant)
    assert [(r["kind"], r["field"], r["jobId"]) for r in updates] == [
        ("VARIANT_UPDATED", "variants", job["id"])
    ] * 2
    assert sorted(r["detail"]["variation"]["external_id"] for r in updates) == ["813", "814"]
    assert {r["detail"]["change"] for r in updates} == {"variant added"}


async def test_a_newer_variation_replaces_its_variant_and_an_older_one_is_stale(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    await pushed(gql, services, tenant, [variation(0)])
    newer = variation(0, sale_price="17.00", date_modified_gmt="2026-11-02T09:00:00")
    job = await pushed(gql, services, tenant, [newer])
    assert counted(job) == (1, 1, 0, 0, 0)
    [grey] = (await beanie(gql, tenant))["data"]["variants"]
    assert grey["price"]["amount"] == "17.00"

    older = variation(0, sale_price="5.00", date_modified_gmt="2026-11-01T09:00:00")
    job = await pushed(gql, services, tenant, [older])
    assert counted(job) == (1, 0, 0, 1, 0)
    assert (await beanie(gql, tenant))["data"]["variants"] == [grey]
    stale = (await history(gql, tenant))[-1]
    assert (stale["kind"], stale["field"]) == ("STALE", "variants")
    assert stale["detail"]["incoming_source_updated_at"] == "2026-11-01T09:00:00Z"
    assert stale["detail"]["stored_source_updated_at"] == "2026-11-02T09:00:00Z"

    again = await pushed(gql, services, tenant, [newer])
    assert counted(again) == (1, 0, 1, 0, 0)  # the same variation twice changes nothing


async def test_variations_before_their_parent_wait_for_it_and_stay_with_it(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    job = await pushed(gql, services, tenant, VARIATIONS.records())
    assert job["status"] == "SUCCEEDED"
    assert counted(job) == (2, 0, 0, 0, 2)  # held: valid, not written
    [event] = (await gql(JOB_EVENTS, key=tenant.secret))["events"]["nodes"]
    assert event["body"]["data"]["counters"]["held"] == 2  # told downstream too
    assert await stored(gql, tenant) == []
    held = await history(gql, tenant)
    assert sorted((r["kind"], r["detail"]["variation"]["external_id"]) for r in held) == [
        ("VARIATION_HELD", "813"),
        ("VARIATION_HELD", "814"),
    ]

    job = await pushed(gql, services, tenant, PRODUCTS.records())
    assert counted(job) == (2, 2, 0, 0, 0)
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY, NAVY]
    applied = (await history(gql, tenant))[2:]
    assert {(r["kind"], r["detail"]["change"]) for r in applied} == {
        ("VARIANT_UPDATED", "held variation applied")
    }
    async with services.sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(VariantUpdate)
            .where(VariantUpdate.applied_at.is_(None))
        )
    assert waiting == 0

    # The parent pushed again (ids only, as WooCommerce sends it) keeps its variations' variants.
    again = await pushed(gql, services, tenant, PRODUCTS.records())
    assert counted(again) == (2, 0, 2, 0, 0)
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY, NAVY]


async def test_a_parent_listing_a_newer_variant_keeps_its_own_copy(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, [variation(0)])
    expanded = next(page for page in PAGES if page.name == "woocommerce/products-expanded")
    [parent] = copy.deepcopy(expanded.records())
    parent["date_modified_gmt"] = "2026-11-03T10:00:00"
    parent["variations"][0]["sale_price"] = "15.00"
    await pushed(gql, services, tenant, [parent])
    grey = (await beanie(gql, tenant))["data"]["variants"][0]
    assert grey["price"]["amount"] == "15.00"  # the parent's copy is newer than the variation

    job = await pushed(gql, services, tenant, [variation(0)])  # the same old variation again
    assert counted(job) == (1, 0, 0, 1, 0)


async def test_a_variation_older_than_the_parents_own_copy_is_stale(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    expanded = next(page for page in PAGES if page.name == "woocommerce/products-expanded")
    [parent] = copy.deepcopy(expanded.records())
    parent["date_modified_gmt"] = "2026-11-03T10:00:00"
    await pushed(gql, services, tenant, [parent])
    before = await beanie(gql, tenant)
    job = await pushed(gql, services, tenant, [variation(0)])  # modified 2026-10-25
    assert counted(job) == (1, 0, 0, 1, 0)
    assert await beanie(gql, tenant) == before


async def test_two_jobs_updating_one_parent_at_once_both_land(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    scope = TenantScope(tenant.client_id, False)

    async def store(number: int) -> None:
        found = validate_record(Entity.PRODUCT, json.dumps(VARIATIONS.expected()[number]["data"]))
        assert isinstance(found, ValidRecord)
        async with services.sessions() as session, session.begin():
            key = (found.source_platform, found.external_id)
            await store_records(session, scope, Entity.PRODUCT, f"job_{number}", {key: found})

    await asyncio.gather(store(0), store(1))
    variants = (await beanie(gql, tenant))["data"]["variants"]
    assert sorted(variant["external_id"] for variant in variants) == ["813", "814"]


async def test_a_variation_never_touches_another_clients_parent(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    other = await create_tenant(services, "Other Shop")
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, other.client_id, currency="EUR")
    await pushed(gql, services, other, PRODUCTS.records())
    theirs = await beanie(gql, other)

    job = await pushed(gql, services, tenant, VARIATIONS.records())
    assert counted(job) == (2, 0, 0, 0, 2)  # held for this client's own parent 812
    assert await beanie(gql, other) == theirs
    assert await history(gql, other) == []
    assert [r["kind"] for r in await history(gql, tenant)] == ["VARIATION_HELD"] * 2


async def test_a_quarantined_variation_replayed_updates_its_parent(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    await set_rules(gql, tenant, [{**SKU_FORMAT, "pattern": "^[A-Z0-9-]{1,6}$"}])
    job = await pushed(gql, services, tenant, [variation(0)])  # WB-GREY: 7 characters
    assert job["counters"]["quarantined"] == 1
    assert (await beanie(gql, tenant))["data"]["variants"] == []

    await set_rules(gql, tenant, [SKU_FORMAT])
    replay = (await gql(REPLAY, {"filter": {"ruleId": "sku_format"}}, key=tenant.secret))[
        "replayQuarantined"
    ]
    assert replay["errors"] == [] and replay["replayed"] == 1
    finished = await finished_job(gql, services, tenant, replay["jobs"][0]["id"])
    assert counted(finished) == (1, 1, 0, 0, 0)
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY]
    assert [entry["status"] for entry in await listing(gql, tenant)] == ["RESOLVED"]


async def test_a_fixed_quarantined_variation_updates_its_parent(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    await set_rules(gql, tenant, [{**SKU_FORMAT, "pattern": "^[A-Z0-9-]{1,6}$"}])
    await pushed(gql, services, tenant, [variation(0)])
    [entry] = await listing(gql, tenant)
    fixed = await gql(FIX, {"id": entry["id"], "patch": {"sku": "WBGREY"}}, key=tenant.secret)
    answer = fixed["fixQuarantinedRecord"]
    assert answer["errors"] == [] and answer["outcome"] == "written"
    assert answer["quarantinedRecord"]["status"] == "RESOLVED"
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY]


async def test_a_woocommerce_webhook_for_a_variation_updates_its_parent(
    api: Any, gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    connection = await connect(gql, tenant, "woocommerce", WOO_SECRET)
    body = json.dumps(variation(1)).encode()
    headers = woo_headers(body, "product.updated", "d-9101")
    response = await api.post(path_of(connection), content=body, headers=headers)
    assert response.status_code == 202, response.text
    [job_id] = response.json()["job_ids"]
    job = await finished_job(gql, services, tenant, job_id)
    assert counted(job) == (1, 1, 0, 0, 0)
    assert (await beanie(gql, tenant))["data"]["variants"] == [NAVY]


async def test_variations_whose_parent_never_comes_go_with_the_quarantine_period(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, [variation(0)])
    await pushed(gql, services, tenant, PRODUCTS.records())
    await pushed(gql, services, tenant, [variation(0, parent_id=900)])  # no product 900
    days = services.settings.retention_quarantine_days
    await purge_all(services.sessions, services.settings, datetime.now(UTC) + timedelta(days - 1))
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(VariantUpdate)) == 2
    await purge_all(services.sessions, services.settings, datetime.now(UTC) + timedelta(days + 1))
    async with services.sessions() as session:
        parents = list(await session.scalars(select(VariantUpdate.parent_external_id)))
    assert parents == ["812"]  # the applied one stays: its parent's variant took it


async def _waiting_on_a_lock(services: Services) -> bool:
    async with services.sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def _until_waiting_or_done(services: Services, done: asyncio.Event) -> None:
    """Polled: PostgreSQL tells no one when a session starts waiting on a lock."""
    while True:
        if done.is_set() or await _waiting_on_a_lock(services):
            return
        await asyncio.sleep(0.01)


def _valid(data: dict[str, Any]) -> ValidRecord:
    found = validate_record(Entity.PRODUCT, json.dumps(data))
    assert isinstance(found, ValidRecord)
    return found


# PostgreSQL only: SQLite runs one writer at a time (BEGIN IMMEDIATE), so they cannot interleave.
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("stored_before", [True, False], ids=["parent-stored", "parent-new"])
async def test_a_variation_stored_while_its_parent_is_pushed_is_kept(
    gql: GraphQL,
    services: Services,
    tenant: Tenant,
    berlin_client: None,
    monkeypatch: pytest.MonkeyPatch,
    stored_before: bool,
) -> None:
    if stored_before:
        await pushed(gql, services, tenant, PRODUCTS.records())
    scope = TenantScope(tenant.client_id, False)
    [beanie_data] = [g["data"] for g in PRODUCTS.expected() if g["data"]["external_id"] == "812"]
    parent = _valid({**beanie_data, "source_updated_at": "2026-11-05T08:00:00Z"})
    grey = _valid(VARIATIONS.expected()[0]["data"])
    decided, variation_done = asyncio.Event(), asyncio.Event()
    real_load_states = storing.load_states

    async def pausing(session: Any, tenant: Any, entity: Any, keys: Any) -> Any:
        if ("woocommerce", "812") in keys:  # the parent's push: its held variations are read
            decided.set()
            await _until_waiting_or_done(services, variation_done)
        return await real_load_states(session, tenant, entity, keys)

    monkeypatch.setattr(storing, "load_states", pausing)

    async def store(job_id: str, record: ValidRecord) -> None:
        async with services.sessions() as session, session.begin():
            key = (record.source_platform, record.external_id)
            await storing.store_records(session, scope, Entity.PRODUCT, job_id, {key: record})

    async def the_variation() -> None:
        await decided.wait()
        await store("job_variation", grey)
        variation_done.set()

    await asyncio.gather(store("job_parent", parent), the_variation())
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY]
    async with services.sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(VariantUpdate)
            .where(VariantUpdate.applied_at.is_(None))
        )
    assert waiting == 0


def _a_product_with_too_many_variants() -> list[tuple[str, str]]:
    """The error a product stored whole gets for one variant too many: (code, path)."""
    [data] = [g["data"] for g in PRODUCTS.expected() if g["data"]["external_id"] == "812"]
    variants = [{"external_id": str(n)} for n in range(variations.MAX_VARIANTS + 1)]
    errors = validate_record(Entity.PRODUCT, json.dumps({**data, "variants": variants}))
    assert isinstance(errors, list)
    return [(error.code, error.dotted_path) for error in errors]


def test_the_variant_cap_is_the_standard_schemas() -> None:
    schema = json.loads((ROOT_DIR / "contracts" / "product.schema.json").read_text())
    assert variations.MAX_VARIANTS == schema["properties"]["variants"]["maxItems"] == 2000


async def test_a_variation_one_too_many_for_its_parent_is_quarantined(
    gql: GraphQL,
    services: Services,
    tenant: Tenant,
    berlin_client: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = [(code, f"records[0].{path}") for code, path in _a_product_with_too_many_variants()]
    monkeypatch.setattr(variations, "MAX_VARIANTS", 1)  # the cap, reached with one variant
    await pushed(gql, services, tenant, PRODUCTS.records())
    await pushed(gql, services, tenant, [variation(0)])
    before = await beanie(gql, tenant)

    job = await pushed(gql, services, tenant, [variation(1)])
    assert job["status"] == "FAILED"
    assert (job["counters"]["valid"], job["counters"]["quarantined"]) == (0, 1)
    assert counted(job) == (0, 0, 0, 0, 0)
    [error] = job["errors"]["nodes"]
    assert (error["index"], error["externalId"]) == (0, "814")
    assert [(error["code"], error["path"])] == whole  # as a product stored whole would get
    assert "812 has 1 variants" in error["message"]
    assert await beanie(gql, tenant) == before  # not stored, not held
    [entry] = await listing(gql, tenant)
    assert entry["status"] == "OPEN" and entry["externalId"] == "814"
    assert [(e["code"], e["path"]) for e in entry["errors"]] == [("invalid_length", "variants")]

    # A newer copy of a variant the parent has is no variant more.
    newer = await pushed(gql, services, tenant, [variation(0, sale_price="18.00")])
    assert counted(newer) == (1, 1, 0, 0, 0)

    fixed = await gql(FIX, {"id": entry["id"], "patch": {"sku": "WBNAVY"}}, key=tenant.secret)
    answer = fixed["fixQuarantinedRecord"]
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("invalid_length", "variants")]
    replayed = await _replayed(gql, services, tenant)
    assert (replayed["counters"]["valid"], replayed["counters"]["quarantined"]) == (0, 1)
    [entry] = await listing(gql, tenant)
    assert entry["status"] == "OPEN" and entry["attempts"] == 2  # refused again, still open

    monkeypatch.setattr(variations, "MAX_VARIANTS", 2)
    replayed = await _replayed(gql, services, tenant)
    assert counted(replayed) == (1, 1, 0, 0, 0)
    [entry] = await listing(gql, tenant)
    assert entry["status"] == "RESOLVED"
    variants = (await beanie(gql, tenant))["data"]["variants"]
    assert [variant["external_id"] for variant in variants] == ["813", "814"]


async def _replayed(gql: GraphQL, services: Services, tenant: Tenant) -> dict[str, Any]:
    replay = (await gql(REPLAY, {"filter": {"status": "OPEN"}}, key=tenant.secret))[
        "replayQuarantined"
    ]
    assert replay["errors"] == [] and replay["replayed"] == 1
    return await finished_job(gql, services, tenant, replay["jobs"][0]["id"])


async def test_variations_held_for_a_parent_stop_at_the_cap(
    gql: GraphQL,
    services: Services,
    tenant: Tenant,
    berlin_client: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(variations, "MAX_VARIANTS", 1)
    job = await pushed(gql, services, tenant, VARIATIONS.records())
    assert counted(job) == (1, 0, 0, 0, 1)  # 813 held; 814 would be a second variant
    assert [node["externalId"] for node in job["errors"]["nodes"]] == ["814"]
    again = await pushed(gql, services, tenant, [variation(0)])
    assert counted(again) == (1, 0, 1, 0, 0)  # the held one again: no variant more

    monkeypatch.setattr(variations, "MAX_VARIANTS", 2)
    assert counted(await pushed(gql, services, tenant, [variation(1)])) == (1, 0, 0, 0, 1)
    monkeypatch.setattr(variations, "MAX_VARIANTS", 1)  # lowered: the parent takes what fits
    await pushed(gql, services, tenant, PRODUCTS.records())
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY]


async def pushed_standard(
    gql: GraphQL, services: Services, tenant: Tenant, records: list[Any]
) -> dict[str, Any]:
    payload = await push(gql, tenant, records)
    assert payload["errors"] == []
    return await finished_job(gql, services, tenant, payload["job"]["id"])


def beanie_listing(ids: str, at: str) -> dict[str, Any]:
    """The beanie as a standard record that says which variations it has (as WooCommerce's
    `variations` list), read at `at`."""
    [data] = [g["data"] for g in PRODUCTS.expected() if g["data"]["external_id"] == "812"]
    attributes = {**data["attributes"], "variation_ids": ids}
    return {**data, "source_updated_at": at, "attributes": attributes}


async def variation_rows(services: Services) -> list[tuple[str, bool]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(VariantUpdate.variant_external_id, VariantUpdate.applied_at.is_not(None))
        )
    return sorted((row[0], row[1]) for row in rows)


async def test_a_parent_that_no_longer_lists_a_variation_loses_its_variant(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    await pushed(gql, services, tenant, VARIATIONS.records())  # 813 and 814, 2026-10-25

    job = await pushed_standard(
        gql, services, tenant, [beanie_listing("813", "2026-11-04T00:00:00Z")]
    )
    assert counted(job) == (1, 1, 0, 0, 0)
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY]
    removed = (await history(gql, tenant))[-1]
    assert (removed["kind"], removed["field"], removed["jobId"]) == (
        "VARIANTS_REMOVED",
        "variants",
        job["id"],
    )
    assert removed["detail"]["removed"] == ["814"]
    assert await variation_rows(services) == [("813", True)]

    again = await pushed(gql, services, tenant, [variation(1)])  # older than the parent's list
    assert counted(again) == (1, 0, 0, 1, 0)
    made_later = variation(1, date_modified_gmt="2026-11-05T00:00:00")
    assert counted(await pushed(gql, services, tenant, [made_later])) == (1, 1, 0, 0, 0)
    variants = (await beanie(gql, tenant))["data"]["variants"]
    assert [variant["external_id"] for variant in variants] == ["813", "814"]


async def test_a_woocommerce_product_pushed_raw_without_a_variation_loses_its_variant(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())  # the beanie lists 813 and 814
    await pushed(gql, services, tenant, VARIATIONS.records())
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY, NAVY]

    [_, variable] = PRODUCTS.records()
    deleted = {**variable, "variations": [813], "date_modified": "2026-11-04T10:00:00"}
    job = await pushed(gql, services, tenant, [deleted])
    assert counted(job) == (1, 1, 0, 0, 0)
    after = await beanie(gql, tenant)
    assert after["data"]["variants"] == [GREY]
    assert after["data"]["attributes"]["variation_ids"] == "813"
    assert (await history(gql, tenant))[-1]["detail"]["removed"] == ["814"]

    emptied = {**variable, "variations": [], "date_modified": "2026-11-05T10:00:00"}
    await pushed(gql, services, tenant, [emptied])  # every variation deleted: none left
    assert (await beanie(gql, tenant))["data"]["variants"] == []


async def test_what_a_parents_variation_list_means_when_empty_or_absent(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, VARIATIONS.records())  # held, 2026-10-25
    [data] = [g["data"] for g in PRODUCTS.expected() if g["data"]["external_id"] == "812"]
    silent = {k: v for k, v in data["attributes"].items() if k != "variation_ids"}
    newer = {**data, "source_updated_at": "2026-11-04T00:00:00Z", "attributes": silent}
    await pushed_standard(gql, services, tenant, [newer])  # says nothing: keeps them all
    assert (await beanie(gql, tenant))["data"]["variants"] == [GREY, NAVY]

    # A newer variation than the parent's list is one made after it was read: kept.
    made_later = variation(1, date_modified_gmt="2026-11-06T00:00:00")
    await pushed(gql, services, tenant, [made_later])
    await pushed_standard(gql, services, tenant, [beanie_listing("", "2026-11-05T00:00:00Z")])
    variants = (await beanie(gql, tenant))["data"]["variants"]
    assert [variant["external_id"] for variant in variants] == ["814"]  # lists none: 813 gone
    assert (await history(gql, tenant))[-1]["detail"]["removed"] == ["813"]
    assert await variation_rows(services) == [("814", True)]


# PostgreSQL only: SQLite takes no parent locks (one writer at a time).
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_chunk_of_many_parents_holds_a_bounded_number_of_locks(
    services: Services, tenant: Tenant
) -> None:
    [data] = [g["data"] for g in PRODUCTS.expected() if g["data"]["external_id"] == "812"]
    records = {
        ("woocommerce", str(n)): _valid({**data, "external_id": str(n)}) for n in range(1000, 1500)
    }
    scope = TenantScope(tenant.client_id, False)
    async with services.sessions() as session, session.begin():
        await store_records(session, scope, Entity.PRODUCT, "job_many", records)
        locks = await session.scalar(
            text(
                "SELECT count(*) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        )
    assert 0 < locks <= variations.LOCK_BUCKETS  # the lock table is shared by all sessions
