"""A WooCommerce variation read on its own updates its parent product's variant: through
ingestRaw, a WooCommerce webhook and a quarantine replay, whichever arrives first, on both
backends."""

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord, VariantUpdate
from app.records.storing import store_records
from app.records.validation import ValidRecord, validate_record
from app.retention.purge import purge_all
from app.services import Services
from app.tenancy import service as tenancy
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.fixtures.platforms import PAGES
from tests.integration.test_ingest_pipeline import finished_job, stored
from tests.integration.test_ingest_raw import push_raw
from tests.integration.test_quarantine import FIX, REPLAY, SKU_FORMAT, listing, set_rules
from tests.integration.test_webhooks import WOO_SECRET, connect, path_of, woo_headers

PRODUCTS = next(page for page in PAGES if page.name == "woocommerce/products")
VARIATIONS = next(page for page in PAGES if page.name == "woocommerce/variations")
# What the variations say as the beanie's variants (their golden records' own variant).
GREY, NAVY = (golden["data"]["variants"][0] for golden in VARIATIONS.expected())

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


def counted(job: dict[str, Any]) -> tuple[int, int, int, int]:
    counters = job["counters"]
    return counters["valid"], counters["written"], counters["unchanged"], counters["stale"]


async def test_variations_after_their_parent_update_its_variants(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    await pushed(gql, services, tenant, PRODUCTS.records())
    before = await beanie(gql, tenant)
    assert before["data"]["variants"] == []  # WooCommerce lists variations by id only

    job = await pushed(gql, services, tenant, VARIATIONS.records())
    assert job["status"] == "SUCCEEDED"
    assert counted(job) == (2, 2, 0, 0)
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
    assert counted(job) == (1, 1, 0, 0)
    [grey] = (await beanie(gql, tenant))["data"]["variants"]
    assert grey["price"]["amount"] == "17.00"

    older = variation(0, sale_price="5.00", date_modified_gmt="2026-11-01T09:00:00")
    job = await pushed(gql, services, tenant, [older])
    assert counted(job) == (1, 0, 0, 1)
    assert (await beanie(gql, tenant))["data"]["variants"] == [grey]
    stale = (await history(gql, tenant))[-1]
    assert (stale["kind"], stale["field"]) == ("STALE", "variants")
    assert stale["detail"]["incoming_source_updated_at"] == "2026-11-01T09:00:00Z"
    assert stale["detail"]["stored_source_updated_at"] == "2026-11-02T09:00:00Z"

    again = await pushed(gql, services, tenant, [newer])
    assert counted(again) == (1, 0, 1, 0)  # the same variation twice changes nothing


async def test_variations_before_their_parent_wait_for_it_and_stay_with_it(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    job = await pushed(gql, services, tenant, VARIATIONS.records())
    assert job["status"] == "SUCCEEDED"
    assert counted(job) == (2, 0, 0, 0)  # held: valid, not written
    assert await stored(gql, tenant) == []
    held = await history(gql, tenant)
    assert sorted((r["kind"], r["detail"]["variation"]["external_id"]) for r in held) == [
        ("VARIATION_HELD", "813"),
        ("VARIATION_HELD", "814"),
    ]

    job = await pushed(gql, services, tenant, PRODUCTS.records())
    assert counted(job) == (2, 2, 0, 0)
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
    assert counted(again) == (2, 0, 2, 0)
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
    assert counted(job) == (1, 0, 0, 1)


async def test_a_variation_older_than_the_parents_own_copy_is_stale(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    expanded = next(page for page in PAGES if page.name == "woocommerce/products-expanded")
    [parent] = copy.deepcopy(expanded.records())
    parent["date_modified_gmt"] = "2026-11-03T10:00:00"
    await pushed(gql, services, tenant, [parent])
    before = await beanie(gql, tenant)
    job = await pushed(gql, services, tenant, [variation(0)])  # modified 2026-10-25
    assert counted(job) == (1, 0, 0, 1)
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
    assert counted(job) == (2, 0, 0, 0)  # held for this client's own parent 812
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
    assert counted(finished) == (1, 1, 0, 0)
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
    assert counted(job) == (1, 1, 0, 0)
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
