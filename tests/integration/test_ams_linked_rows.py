"""Linked records are one AMS row: a product sold on Shopify and WooCommerce (one SKU) is one row
of the client's Products table, holding the values `linkedRecord` reads (field owners, else the
newest source). The gateway runs as a real HTTP server; the base is read through the emulator's
Airtable API with the real pyairtable."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pyairtable import Api
from sqlalchemy import select

from app.integrations.sandbox_tokens import sandbox_token
from app.provisioning.models import AmsProvisioning
from app.sandbox.airtable.models import SandboxTable
from app.settings import Settings
from tests.conftest import Tenant, create_tenant
from tests.helpers import ingest_mutation, served_gateway
from tests.integration.test_ams_sync import (
    EVENTS,
    Gateway,
    ams_settings,
    base_of,
    entity_sync,
    eventually,
    push,
    synced_after,
    viewer,
)
from tests.integration.test_reconciliation import create_tenant_over_http, operator_for

SET_POLICY = """mutation P($input: SetConflictPolicyInput!) {
  setConflictPolicy(input: $input) { policy { version } errors { code message path } }
}"""
LINKED = """query L($identity: String!) {
  linkedRecord(entity: PRODUCT, identity: $identity) { data }
}"""
RESOLUTIONS = """query R($entity: Entity!) {
  recordResolutions(entity: $entity, first: 100) {
    nodes { kind field sourcePlatform externalId detail }
  }
}"""
RECONCILE = """mutation($input: ReconcileInput!) { reconcile(input: $input) {
  errors { code message path }
  run { status checked pending missing extra duplicate field
        mismatches(first: 100) { nodes { kind externalId columns } } }
} }"""
ERASE = """mutation Erase($input: SubjectInput!) { eraseSubject(input: $input) {
  receipt { completed error removed { place removed } } errors { code message }
} }"""
IDENTITY, LINKED_SOURCES = "Identity", "Linked Sources"


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings, reconciliation_enabled=False)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings, http_timeout=120) as served:
        yield served


def tee(platform: str, external_id: str, updated: str, **fields: Any) -> dict[str, Any]:
    """One T-shirt as each shop lists it."""
    return {
        "external_id": external_id,
        "source_platform": platform,
        "source_updated_at": updated,
        "name": "Organic Tee",
        "sku": "TEE-1",
        "status": "active",
        "price": {"amount": "25.00", "currency": "EUR"},
        **fields,
    }


def table_rows(gateway: Gateway, tenant: Tenant, base_id: str, table: str) -> list[dict[str, Any]]:
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    api = Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable")
    return [row["fields"] for row in api.table(base_id, table).all()]


async def products(gateway: Gateway, tenant: Tenant, base_id: str) -> list[dict[str, Any]]:
    return await asyncio.to_thread(table_rows, gateway, tenant, base_id, "Products")


async def set_policy(gateway: Gateway, tenant: Tenant, **policy: Any) -> None:
    data = await gateway.gql(SET_POLICY, {"input": policy}, key=tenant.secret)
    assert data["setConflictPolicy"]["errors"] == [], data


async def resolutions(gateway: Gateway, tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    data = await gateway.gql(RESOLUTIONS, {"entity": "PRODUCT"}, key=tenant.secret)
    return [n for n in data["recordResolutions"]["nodes"] if n["kind"] == kind]


async def rows_once(
    gateway: Gateway, tenant: Tenant, base_id: str, count: int
) -> list[dict[str, Any]]:
    """The Products rows once the table holds `count` rows and no sync is pending."""

    async def settled() -> list[dict[str, Any]] | None:
        state = entity_sync(await viewer(gateway, tenant))
        if state is None or state["pending"]:
            return None
        found = await products(gateway, tenant, base_id)
        return found if len(found) == count else None

    found: list[dict[str, Any]] = await eventually(settled)
    return found


async def test_one_product_on_two_platforms_is_one_row_with_the_owners_price_and_newest_name(
    gateway, services
):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    await set_policy(
        gateway,
        acme,
        entity="PRODUCT",
        identity="sku",
        owners=[{"field": "price", "platform": "SHOPIFY"}],
    )
    shopify = tee("shopify", "8072389001", "2026-11-01T10:00:00Z")
    woo = tee(
        "woocommerce",
        "wc-77",
        "2026-11-01T11:00:00Z",
        name="Organic Tee (2026 cut)",
        price={"amount": "22.00", "currency": "EUR"},
    )
    await push(gateway, acme, [shopify, woo])
    view = await synced_after(gateway, acme, None)
    base = base_of(view)

    [row] = await products(gateway, acme, base)
    assert row["Price"] == 25.0  # Shopify owns the price
    assert row["Name"] == "Organic Tee (2026 cut)"  # the newest source's name
    assert (row["External ID"], row["Source"]) == ("8072389001", "shopify")
    assert row[IDENTITY] == "sku:TEE-1"
    assert row[LINKED_SOURCES].splitlines() == ["shopify:8072389001", "woocommerce:wc-77"]
    assert row["Source Updated At"].startswith("2026-11-01T11:00:00")
    linked = (await gateway.gql(LINKED, {"identity": "TEE-1"}, key=acme.secret))["linkedRecord"]
    assert linked["data"]["name"] == row["Name"]
    assert linked["data"]["price"]["amount"] == "25.00"
    merged = await resolutions(gateway, acme, "AMS_ROW_MERGED")
    assert {(r["sourcePlatform"], r["externalId"]) for r in merged} == {
        ("shopify", "8072389001"),
        ("woocommerce", "wc-77"),
    }
    assert merged[0]["detail"]["row"] == {"source_platform": "shopify", "external_id": "8072389001"}
    events = await gateway.gql(EVENTS, {"type": "product.synced"}, key=acme.secret)
    announced = {
        (data["source_platform"], external_id)
        for data in (event["body"]["data"] for event in events["events"]["nodes"])
        for external_id in data["external_ids"]
    }
    assert announced == {("shopify", "8072389001"), ("woocommerce", "wc-77")}

    # WooCommerce lowers its price later: Shopify owns the price, so nothing is written.
    writes = len(gateway.traffic.writes())
    cheaper = woo | {
        "source_updated_at": "2026-11-02T09:00:00Z",
        "price": {"amount": "19.00", "currency": "EUR"},
    }
    await push(gateway, acme, [cheaper])
    later = await synced_after(gateway, acme, entity_sync(view)["lastSyncedAt"])
    assert gateway.traffic.writes()[writes:] == []
    assert entity_sync(later)["written"] == 0
    [row] = await products(gateway, acme, base)
    assert row["Price"] == 25.0

    # A stale copy from Shopify writes nothing either; a newer Shopify price rewrites the row.
    stale = shopify | {
        "source_updated_at": "2026-10-01T10:00:00Z",
        "price": {"amount": "1.00", "currency": "EUR"},
    }
    await push(gateway, acme, [stale])
    later = await synced_after(gateway, acme, entity_sync(later)["lastSyncedAt"])
    assert gateway.traffic.writes()[writes:] == []
    newer = shopify | {
        "source_updated_at": "2026-11-03T09:00:00Z",
        "name": woo["name"],  # now the newest source: its name is the row's (unchanged)
        "price": {"amount": "27.00", "currency": "EUR"},
    }
    await push(gateway, acme, [newer])
    await synced_after(gateway, acme, entity_sync(later)["lastSyncedAt"])
    [sent] = [w.body["records"] for w in gateway.traffic.writes()[writes:] if w.status == 200]
    assert len(sent) == 1 and sent[0]["fields"]["Price"] == 27.0
    assert "Name" not in sent[0]["fields"]  # only what changed
    [row] = await products(gateway, acme, base)
    assert row["Price"] == 27.0

    # The policy changes owner: the merged row follows without any record being pushed.
    await set_policy(
        gateway,
        acme,
        entity="PRODUCT",
        identity="sku",
        owners=[{"field": "price", "platform": "WOOCOMMERCE"}],
    )

    async def repriced() -> bool:
        found = await products(gateway, acme, base)
        return len(found) == 1 and found[0]["Price"] == 19.0

    await eventually(repriced)


async def test_records_linked_after_both_were_written_end_as_one_row_and_split_again(gateway):
    acme = await create_tenant_over_http(gateway)
    shopify = tee("shopify", "8072389001", "2026-11-01T10:00:00Z")
    woo = tee("woocommerce", "wc-77", "2026-11-01T11:00:00Z", sku="WC-TEE", name="Tee by Woo")
    other = tee("shopify", "8072389002", "2026-11-01T10:00:00Z", sku="MUG-1", name="Mug")
    await push(gateway, acme, [shopify, woo, other])
    view = await synced_after(gateway, acme, None)
    base = base_of(view)
    assert len(await products(gateway, acme, base)) == 3

    # WooCommerce's listing gets the Shopify SKU: one product, one row.
    relinked = woo | {"source_updated_at": "2026-11-02T10:00:00Z", "sku": "TEE-1"}
    await push(gateway, acme, [relinked])
    rows = await rows_once(gateway, acme, base, 2)
    row = next(r for r in rows if r.get(IDENTITY))
    assert (row["External ID"], row["Name"]) == ("8072389001", "Tee by Woo")
    assert row[LINKED_SOURCES].splitlines() == ["shopify:8072389001", "woocommerce:wc-77"]
    assert not any(r["External ID"] == "wc-77" for r in rows)
    mug = next(r for r in rows if r["External ID"] == "8072389002")
    assert IDENTITY not in mug and LINKED_SOURCES not in mug  # unlinked: as ever

    # The audit compares the merged row with the merged values: nothing differs.
    operator = await operator_for(gateway)
    variables = {"input": {"client": acme.client_id, "entity": "PRODUCT", "full": True}}
    run = (await gateway.gql(RECONCILE, variables, key=operator))["reconcile"]
    assert run["errors"] == [], run
    counts = {k: run["run"][k] for k in ("missing", "extra", "duplicate", "field", "pending")}
    assert counts == dict.fromkeys(counts, 0), run["run"]
    assert run["run"]["checked"] == 2

    # The SKU is changed back: each record has its own row again, with its own values.
    unlinked = relinked | {"source_updated_at": "2026-11-03T10:00:00Z", "sku": "WC-TEE"}
    await push(gateway, acme, [unlinked])
    rows = await rows_once(gateway, acme, base, 3)
    by_key = {(r["Source"], r["External ID"]): r for r in rows}
    assert by_key[("shopify", "8072389001")]["Name"] == "Organic Tee"
    assert IDENTITY not in by_key[("shopify", "8072389001")]
    assert LINKED_SOURCES not in by_key[("shopify", "8072389001")]
    assert by_key[("woocommerce", "wc-77")]["Name"] == "Tee by Woo"
    split = await resolutions(gateway, acme, "AMS_ROW_SPLIT")
    assert {(r["sourcePlatform"], r["externalId"]) for r in split} == {
        ("shopify", "8072389001"),
        ("woocommerce", "wc-77"),
    }


async def test_erasing_a_linked_person_removes_their_one_row(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    people = [
        {
            "external_id": external_id,
            "source_platform": platform,
            "source_updated_at": updated,
            "email": "grace.hopper@example.com",
            "first_name": "Grace",
            "last_name": last_name,
        }
        for platform, external_id, updated, last_name in [
            ("shopify", "cus-1", "2026-11-01T10:00:00Z", "Hopper"),
            ("hubspot", "hs-9", "2026-11-01T11:00:00Z", "Murray Hopper"),
        ]
    ] + [
        {
            "external_id": "cus-2",
            "source_platform": "shopify",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "email": "alan@example.com",
            "first_name": "Alan",
        }
    ]
    data = await gateway.gql(
        ingest_mutation("audience"), {"input": {"records": people}}, key=acme.secret
    )
    assert data["ingestAudience"]["errors"] == []

    async def audience() -> tuple[str, list[dict[str, Any]]] | None:
        view = await viewer(gateway, acme)
        state = entity_sync(view, "AUDIENCE")
        if state is None or state["pending"] or view["amsConfig"] is None:
            return None
        base = base_of(view)
        return base, await asyncio.to_thread(table_rows, gateway, acme, base, "Audience")

    base, rows = await eventually(audience)
    assert len(rows) == 2
    grace = next(r for r in rows if r["Email"] == "grace.hopper@example.com")
    assert grace["Last Name"] == "Murray Hopper"  # the newest source's
    assert grace[IDENTITY] == "email:grace.hopper@example.com"

    erased = await gateway.gql(
        ERASE, {"input": {"email": "grace.hopper@example.com"}}, key=acme.secret
    )
    receipt = erased["eraseSubject"]["receipt"]
    assert receipt["completed"] is True, erased
    assert {p["place"]: p["removed"] for p in receipt["removed"]}["ams_rows"] == 1
    rows = await asyncio.to_thread(table_rows, gateway, acme, base, "Audience")
    assert [r["Email"] for r in rows] == ["alan@example.com"]


async def test_erasing_one_member_shows_the_others_again_at_once(gateway, services):
    """Grace is on Shopify, HubSpot and WooCommerce (one email): one row. Erasing her Shopify
    record deletes that shared row; her other two records are a merged row again with the next
    sync, not only when they next change."""
    acme = await create_tenant(services, "Acme Outdoor", "test")
    people = [
        {
            "external_id": external_id,
            "source_platform": platform,
            "source_updated_at": "2026-11-01T10:00:00Z",
            "email": "grace.hopper@example.com",
            "first_name": "Grace",
        }
        for platform, external_id in [
            ("shopify", "cus-1"),
            ("hubspot", "hs-9"),
            ("woocommerce", "wc-3"),
        ]
    ]
    data = await gateway.gql(
        ingest_mutation("audience"), {"input": {"records": people}}, key=acme.secret
    )
    assert data["ingestAudience"]["errors"] == []

    async def audience(count: int) -> tuple[str, list[dict[str, Any]]] | None:
        view = await viewer(gateway, acme)
        state = entity_sync(view, "AUDIENCE")
        if state is None or state["pending"] or view["amsConfig"] is None:
            return None
        base = base_of(view)
        rows = await asyncio.to_thread(table_rows, gateway, acme, base, "Audience")
        return (base, rows) if len(rows) == count else None

    _, [row] = await eventually(lambda: audience(1))
    assert row[LINKED_SOURCES] == "hubspot:hs-9\nshopify:cus-1\nwoocommerce:wc-3"

    subject = {"externalId": "cus-1", "platform": "SHOPIFY"}
    erased = await gateway.gql(ERASE, {"input": subject}, key=acme.secret)
    assert erased["eraseSubject"]["receipt"]["completed"] is True, erased

    _, [row] = await eventually(lambda: audience(1))
    assert row[IDENTITY] == "email:grace.hopper@example.com"
    assert row[LINKED_SOURCES] == "hubspot:hs-9\nwoocommerce:wc-3"


PROVISION = "mutation { provisionClient { provisioning { baseId } errors { code message } } }"


async def _as_provisioned_before_identity_columns(services: Any, tenant: Tenant, base_id: str):
    """The base as template version 2 made it: no Identity / Linked Sources columns."""
    async with services.sessions() as session, session.begin():
        table = await session.scalar(
            select(SandboxTable).where(
                SandboxTable.base_id == base_id, SandboxTable.name == "Products"
            )
        )
        definition = dict(table.definition)
        definition["fields"] = [
            f for f in definition["fields"] if f["name"] not in {IDENTITY, LINKED_SOURCES}
        ]
        table.definition = definition
        row = await session.scalar(
            select(AmsProvisioning).where(AmsProvisioning.client_id == tenant.client_id)
        )
        config = dict(row.config)
        config["templates"] = dict(config["templates"]) | {"airtable_base": 2}
        row.config = config


async def test_a_base_made_before_the_identity_columns_gets_them_and_one_merged_row(
    gateway, services
):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    provisioned = (await gateway.gql(PROVISION, key=acme.secret))["provisionClient"]
    base = provisioned["provisioning"]["baseId"]
    await _as_provisioned_before_identity_columns(services, acme, base)

    await push(
        gateway,
        acme,
        [
            tee("shopify", "8072389001", "2026-11-01T10:00:00Z"),
            tee("woocommerce", "wc-77", "2026-11-01T11:00:00Z", name="Tee by Woo"),
        ],
    )
    view = await synced_after(gateway, acme, None)

    assert entity_sync(view)["rejected"] == 0
    [row] = await products(gateway, acme, base)
    assert row["Name"] == "Tee by Woo" and row["External ID"] == "8072389001"
    # The sync added the columns first (app.provisioning.upgrade).
    assert row[IDENTITY] == "sku:TEE-1"
    assert row[LINKED_SOURCES] == "shopify:8072389001\nwoocommerce:wc-77"


ARCHIVE = """mutation($input: ArchiveRecordsInput!) {
  archiveRecords(input: $input) { archived errors { code message path } }
}"""


async def test_a_merged_row_is_archived_only_when_every_member_is(gateway, services):
    acme = await create_tenant(services, "Acme Outdoor", "test")
    await push(
        gateway,
        acme,
        [
            tee("shopify", "8072389001", "2026-11-01T10:00:00Z"),
            tee("woocommerce", "wc-77", "2026-11-01T11:00:00Z"),
        ],
    )
    view = await synced_after(gateway, acme, None)
    base = base_of(view)

    async def archive(platform: str, external_id: str) -> None:
        keys = [{"sourcePlatform": platform, "externalId": external_id}]
        variables = {"input": {"entity": "PRODUCT", "records": keys}}
        done = await gateway.gql(ARCHIVE, variables, key=acme.secret)
        assert done["archiveRecords"] == {"archived": 1, "errors": []}

    await archive("WOOCOMMERCE", "wc-77")  # still sold on Shopify
    view = await synced_after(gateway, acme, entity_sync(view)["lastSyncedAt"])
    [row] = await products(gateway, acme, base)
    assert "Archived" not in row

    await archive("SHOPIFY", "8072389001")
    await synced_after(gateway, acme, entity_sync(view)["lastSyncedAt"])
    [row] = await products(gateway, acme, base)
    assert row["Archived"] is True
