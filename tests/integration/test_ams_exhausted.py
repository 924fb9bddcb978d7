"""A record whose AMS writes keep failing for a transient reason (Airtable answering 503 to every
request that carries it) is tried a bounded number of times, its neighbours are written, and it
lands in the quarantine EXHAUSTED; a replay after the fault cleared, or a newer version of the
record, writes it and resolves the entry, never twice. The Airtable emulator's fault injector
(GATEWAY_SANDBOX_AIRTABLE_FAULT_ADMIN) answers the faults; pyairtable talks to it over HTTP."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.ams.models import AmsSyncRecord
from app.ams.retries import AmsRecordRetry
from app.integrations.sandbox_tokens import sandbox_token
from app.services import Services
from app.settings import Settings
from tests.conftest import Tenant, create_tenant
from tests.helpers import Gateway, eventually, served_gateway, shopify_product
from tests.integration.test_ams_sync import (
    PROVISION,
    airtable_rows,
    ams_settings,
    entity_sync,
    push,
    synced_after,
)
from tests.integration.test_quarantine import QUARANTINE, REPLAY

MAX_ATTEMPTS = 4
TRIES_PER_ATTEMPT = 2  # the writer's own retries of one request (GATEWAY_AMS_WRITE_ATTEMPTS)
POISONED = 6  # the 7th product of the catalog


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(
        fast_sandbox_settings,
        sandbox_airtable_fault_admin=True,
        ams_max_attempts=MAX_ATTEMPTS,
        ams_write_attempts=TRIES_PER_ATTEMPT,
        ams_retry_initial_seconds=0.01,
        ams_retry_max_seconds=0.02,
        ams_sync_redispatch_after_seconds=0.2,
        ams_circuit_failure_threshold=1000,  # this test is about one record, not the base
    )


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def _faults(gateway: Gateway, tenant: Tenant, method: str, **body: Any) -> dict[str, Any]:
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        answer = await client.request(
            method,
            "/sandbox/airtable/_faults",
            json=body or None,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _carrying(gateway: Gateway, external_id: str) -> list[Any]:
    """The writes that reached the emulator with this record in them."""
    return [
        request
        for request in gateway.traffic.writes()
        if any(
            record["fields"].get("External ID") == external_id
            for record in (request.body or {}).get("records", [])
        )
    ]


async def _entries(gateway: Gateway, tenant: Tenant) -> list[dict[str, Any]]:
    data = await gateway.gql(QUARANTINE, {"filter": None, "first": 100}, key=tenant.secret)
    return list(data["quarantine"]["nodes"])


async def _sync_row(services: Services, tenant: Tenant, external_id: str) -> AmsSyncRecord:
    async with services.sessions() as session:
        row = await session.scalar(
            select(AmsSyncRecord).where(
                AmsSyncRecord.client_id == tenant.client_id,
                AmsSyncRecord.external_id == external_id,
            )
        )
        assert row is not None
        return row


async def _attempts_left(services: Services, tenant: Tenant) -> list[AmsRecordRetry]:
    async with services.sessions() as session:
        found = await session.scalars(
            select(AmsRecordRetry).where(AmsRecordRetry.client_id == tenant.client_id)
        )
        return list(found)


async def _exhausted_once(
    gateway: Gateway, services: Services
) -> tuple[Tenant, str, list[dict[str, Any]], dict[str, Any]]:
    """20 products; Airtable answers 503 to every request carrying the 7th, and only to those."""
    acme = await create_tenant(services, "Acme", "test")
    provisioned = (await gateway.gql(PROVISION, key=acme.secret))["provisionClient"]
    base_id = provisioned["provisioning"]["baseId"]
    catalog = [shopify_product(n) for n in range(20)]
    poisoned = catalog[POISONED]["external_id"]
    burst = {"kind": "503", "count": 10_000, "matching": f'"{poisoned}"'}
    armed = await _faults(gateway, acme, "POST", bursts=[burst])
    assert armed["pending"] == 10_000

    await push(gateway, acme, catalog)
    view = await synced_after(gateway, acme, None)
    return acme, base_id, catalog, view


async def test_a_record_that_keeps_failing_ends_exhausted_and_its_neighbours_are_written(
    gateway: Gateway, services: Services
) -> None:
    acme, base_id, catalog, view = await _exhausted_once(gateway, services)
    poisoned = catalog[POISONED]["external_id"]

    state = entity_sync(view)  # its counters are the last pass's: the neighbours came before
    assert state is not None and state["error"] is None and not state["pending"]
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    written = sorted(row["External ID"] for row in rows)
    assert written == sorted(p["external_id"] for p in catalog if p["external_id"] != poisoned)

    # Tried exactly the budget: each attempt is one request retried by the writer, no more.
    assert len(_carrying(gateway, poisoned)) == MAX_ATTEMPTS * TRIES_PER_ATTEMPT
    # Its batch mates failed with it at first, then went in smaller batches and were written.
    [entry] = await _entries(gateway, acme)
    assert (entry["status"], entry["stage"], entry["externalId"]) == (
        "EXHAUSTED",
        "AMS",
        poisoned,
    )
    [error] = entry["errors"]
    assert error["code"] == "ams_exhausted"
    assert "RETRIABLE_ERROR" in error["message"] and "503" in error["message"]
    assert "http" not in error["message"]  # no address (nor any cell value) in the reason
    row = await _sync_row(services, acme, poisoned)
    assert (row.status, row.airtable_record_id) == ("exhausted", None)
    assert await _attempts_left(services, acme) == []
    # Onboarding stops short of PRODUCTION_READY and says why and what to do.
    assert view["onboarding"]["status"] == "VALIDATED"
    assert view["onboarding"]["reason"] == (
        "1 record(s) could not be written to the AMS after every retry (see quarantine, status "
        "EXHAUSTED): replay them once the AMS answers again."
    )

    # Given up on: later syncs leave it alone, so a neighbour's change costs no request for it.
    before = len(_carrying(gateway, poisoned))
    changed = dict(catalog[0], name="Linen Shirt zero", source_updated_at="2026-11-02T10:00:00Z")
    await push(gateway, acme, [changed])
    await synced_after(gateway, acme, state["lastSyncedAt"])
    assert len(_carrying(gateway, poisoned)) == before

    # The fault clears; a replay sends it again with a fresh budget and resolves the entry.
    await _faults(gateway, acme, "DELETE")
    replayed = await gateway.gql(REPLAY, {"ids": [entry["id"]]}, key=acme.secret)
    assert replayed["replayQuarantined"]["resent"] == 1

    async def resolved() -> dict[str, Any] | None:
        [found] = await _entries(gateway, acme)
        return found if found["status"] == "RESOLVED" else None

    await eventually(resolved)
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    ids = [row["External ID"] for row in rows]
    assert sorted(ids) == sorted(p["external_id"] for p in catalog)  # each exactly once
    assert (await _sync_row(services, acme, poisoned)).status == "synced"


async def test_a_newer_version_of_an_exhausted_record_is_tried_again(
    gateway: Gateway, services: Services
) -> None:
    acme, base_id, catalog, view = await _exhausted_once(gateway, services)
    poisoned = catalog[POISONED]["external_id"]
    await _faults(gateway, acme, "DELETE")

    newer = dict(
        catalog[POISONED], name="Linen Shirt six", source_updated_at="2026-11-03T10:00:00Z"
    )
    await push(gateway, acme, [newer])
    state = entity_sync(view)
    assert state is not None
    await synced_after(gateway, acme, state["lastSyncedAt"])

    [entry] = await _entries(gateway, acme)
    assert entry["status"] == "RESOLVED"
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    [row] = [row for row in rows if row["External ID"] == poisoned]
    assert row["Name"] == "Linen Shirt six"
    assert len(rows) == len(catalog)


async def _statuses(services: Services, tenant: Tenant) -> dict[str, str]:
    async with services.sessions() as session:
        found = await session.execute(
            select(AmsSyncRecord.external_id, AmsSyncRecord.status).where(
                AmsSyncRecord.client_id == tenant.client_id
            )
        )
        return {row[0]: row[1] for row in found}


async def test_a_merged_row_that_keeps_failing_exhausts_every_member_and_a_replay_writes_it(
    gateway: Gateway, services: Services
) -> None:
    """One product sold on Shopify and WooCommerce (one SKU) is one merged row; Airtable answers
    503 to every request carrying it. Its members share its attempts and its fate."""
    acme = await create_tenant(services, "Acme", "test")
    provisioned = (await gateway.gql(PROVISION, key=acme.secret))["provisionClient"]
    base_id = provisioned["provisioning"]["baseId"]
    tee = shopify_product(0, sku="TEE-1")
    linked = [tee, dict(tee, source_platform="woocommerce", external_id="wc-77")]
    catalog = [*linked, *(shopify_product(n) for n in range(1, 6))]
    burst = {"kind": "503", "count": 10_000, "matching": '"sku:TEE-1"'}  # its Identity cell
    await _faults(gateway, acme, "POST", bursts=[burst])

    await push(gateway, acme, catalog)
    await synced_after(gateway, acme, None)

    statuses = await _statuses(services, acme)
    assert statuses[tee["external_id"]] == statuses["wc-77"] == "exhausted"
    assert await _attempts_left(services, acme) == []  # none left behind for either member
    [entry] = await _entries(gateway, acme)  # the holder's record holds it, as for a refusal
    assert (entry["status"], entry["externalId"]) == ("EXHAUSTED", tee["external_id"])

    await _faults(gateway, acme, "DELETE")
    replayed = await gateway.gql(REPLAY, {"ids": [entry["id"]]}, key=acme.secret)
    assert replayed["replayQuarantined"]["resent"] == 1

    async def written() -> list[dict[str, Any]] | None:
        rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
        return rows if len(rows) == len(catalog) - 1 else None

    rows = await eventually(written)
    [merged] = [row for row in rows if row.get("Identity") == "sku:TEE-1"]
    assert merged["Linked Sources"] == f"shopify:{tee['external_id']}\nwoocommerce:wc-77"

    async def settled() -> dict[str, str] | None:
        found = await _statuses(services, acme)
        return found if set(found.values()) == {"synced"} else None

    await eventually(settled)
    assert await _attempts_left(services, acme) == []
