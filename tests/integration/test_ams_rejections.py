"""A record the AMS refuses is held in the quarantine with Airtable's error (never its batch):
one open entry per record, found, fixed and replayed like any quarantined record, and resolved
by itself once a sync writes the record. The gateway runs as a real HTTP server; the Airtable
emulator is reached by pyairtable over HTTP."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from app.sandbox.airtable.models import SandboxTable
from app.services import Services
from app.settings import Settings
from tests.conftest import Tenant, create_tenant
from tests.helpers import Gateway, eventually, served_gateway, shopify_product
from tests.integration.test_ams_assets import asset
from tests.integration.test_ams_assets import push as push_assets
from tests.integration.test_ams_assets import synced_after as assets_synced
from tests.integration.test_ams_sync import (
    PROVISION,
    airtable_rows,
    ams_settings,
    entity_sync,
    push,
    synced_after,
)
from tests.integration.test_quarantine import FIX, QUARANTINE, REPLAY


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def _column_type(services: Services, base_id: str, column: str, kind: str) -> None:
    """Someone changes the SKU column's type in the client's base (the AMS is theirs to edit)."""
    async with services.sessions() as session, session.begin():
        row = await session.scalar(
            select(SandboxTable).where(
                SandboxTable.base_id == base_id, SandboxTable.name == "Products"
            )
        )
        assert row is not None
        definition = dict(row.definition)
        fields = [dict(f) for f in definition["fields"]]
        for spec in fields:
            if spec["name"] == column:
                spec["type"] = kind
                spec.pop("options", None)
                if kind == "number":
                    spec["options"] = {"precision": 0}
        definition["fields"] = fields
        row.definition = definition


def _state(view: dict[str, Any]) -> dict[str, Any]:
    found = entity_sync(view)
    assert found is not None
    return found


async def _entries(gateway: Gateway, tenant: Tenant, **filter: Any) -> list[dict[str, Any]]:
    variables = {"filter": filter or None, "first": 100}
    data = await gateway.gql(QUARANTINE, variables, key=tenant.secret)
    return list(data["quarantine"]["nodes"])


async def _refused_once(gateway: Gateway, services: Services) -> tuple[Tenant, str, list[Any]]:
    """A client whose base takes only numbers as SKU; the 7th of 10 products has a text SKU."""
    acme = await create_tenant(services, "Acme", "test")
    provisioned = (await gateway.gql(PROVISION, key=acme.secret))["provisionClient"]
    base_id = provisioned["provisioning"]["baseId"]
    await _column_type(services, base_id, "SKU", "number")
    catalog = [shopify_product(n, sku=f"{1000 + n}") for n in range(10)]
    catalog[6]["sku"] = "LS-00006"
    job_id = await push(gateway, acme, catalog)
    view = await synced_after(gateway, acme, None)
    assert (_state(view)["written"], _state(view)["rejected"]) == (9, 1)
    return acme, base_id, [job_id, catalog, view]


async def test_a_refused_record_is_quarantined_with_airtables_error_once(
    gateway: Gateway, services: Services
) -> None:
    acme, _, (job_id, catalog, view) = await _refused_once(gateway, services)

    [entry] = await _entries(gateway, acme, status="OPEN")
    assert entry["externalId"] == catalog[6]["external_id"]
    assert (entry["entity"], entry["platform"], entry["jobId"]) == ("PRODUCT", "SHOPIFY", job_id)
    assert entry["stage"] == "AMS"
    assert entry["index"] == -1 and entry["raw"] is None  # no staged input: it passed the gateway
    assert entry["mapped"]["sku"] == "LS-00006"  # the canonical record is the attempt
    [error] = entry["errors"]
    assert error["code"] == "ams_rejected"
    assert error["path"] == "sku"  # the SKU column maps back to the standard field
    assert "INVALID_VALUE_FOR_COLUMN" in error["message"] and "SKU" in error["message"]

    # Refused again with new content: the same entry, not a second one.
    again = dict(catalog[6], name="Linen Shirt six", source_updated_at="2026-11-02T10:00:00Z")
    await push(gateway, acme, [again])
    await synced_after(gateway, acme, _state(view)["lastSyncedAt"])
    [entry_again] = await _entries(gateway, acme)
    assert entry_again["id"] == entry["id"] and entry_again["status"] == "OPEN"
    assert entry_again["attempts"] == 2
    assert entry_again["mapped"]["name"] == "Linen Shirt six"


async def test_a_fixed_refused_record_is_written_to_airtable(
    gateway: Gateway, services: Services
) -> None:
    acme, base_id, (_, catalog, view) = await _refused_once(gateway, services)
    [entry] = await _entries(gateway, acme, status="OPEN")

    fixed = await gateway.gql(FIX, {"id": entry["id"], "patch": {"sku": "1006"}}, key=acme.secret)
    payload = fixed["fixQuarantinedRecord"]
    assert payload["errors"] == [] and payload["quarantinedRecord"]["status"] == "RESOLVED"
    after = await synced_after(gateway, acme, _state(view)["lastSyncedAt"])

    assert after["amsSync"]["records"]["nodes"] == []  # nothing REJECTED any more
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    by_id = {row["External ID"]: row for row in rows}
    assert by_id[catalog[6]["external_id"]]["SKU"] == 1006
    assert len(rows) == 10
    assert await _entries(gateway, acme, status="OPEN") == []


async def test_a_replayed_refusal_is_sent_again_and_resolves_once_written(
    gateway: Gateway, services: Services
) -> None:
    acme, base_id, (_, catalog, _view) = await _refused_once(gateway, services)
    [entry] = await _entries(gateway, acme, status="OPEN")
    await _column_type(services, base_id, "SKU", "singleLineText")  # the base is corrected

    replayed = await gateway.gql(REPLAY, {"ids": [entry["id"]]}, key=acme.secret)
    assert replayed["replayQuarantined"]["errors"] == []
    assert replayed["replayQuarantined"]["jobs"] == []  # no raw input to re-run: the AMS retries
    counted = replayed["replayQuarantined"]
    assert (counted["replayed"], counted["resent"]) == (0, 1)  # one record sent to the AMS again

    async def resolved() -> dict[str, Any] | None:
        [found] = await _entries(gateway, acme)
        return found if found["status"] == "RESOLVED" else None

    done = await eventually(resolved)
    assert done["id"] == entry["id"] and done["resolvedAt"]
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    by_id = {row["External ID"]: row for row in rows}
    assert by_id[catalog[6]["external_id"]]["SKU"] == "LS-00006"


async def test_a_later_successful_write_resolves_the_open_entry(
    gateway: Gateway, services: Services
) -> None:
    acme, base_id, (_, catalog, view) = await _refused_once(gateway, services)

    corrected = dict(catalog[6], sku="1006", source_updated_at="2026-11-02T10:00:00Z")
    await push(gateway, acme, [corrected])
    await synced_after(gateway, acme, _state(view)["lastSyncedAt"])

    [entry] = await _entries(gateway, acme)
    assert entry["status"] == "RESOLVED"
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_id)
    assert {row["External ID"]: row for row in rows}[catalog[6]["external_id"]]["SKU"] == 1006


async def test_an_asset_whose_file_is_refused_is_quarantined_with_the_reason(
    gateway: Gateway, services: Services
) -> None:
    acme = await create_tenant(services, "Acme", "test")
    blocked = asset("img-blocked", "http://169.254.169.254/latest/meta-data/front.png")

    await push_assets(gateway, acme, [blocked])
    await assets_synced(gateway, acme, None)

    [entry] = await _entries(gateway, acme, entity="ASSET")
    assert (entry["externalId"], entry["status"]) == ("img-blocked", "OPEN")
    [error] = entry["errors"]
    assert (error["code"], error["path"]) == ("asset_rejected", "source_url")
    assert "asset_address_blocked" in error["message"] and "169.254.169.254" in error["message"]
