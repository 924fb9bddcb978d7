"""A base made from an AMS template before version 3 lacks the Archived, Identity and Linked Sources
columns: the next sync adds them through Airtable's metadata API (pyairtable's
Table.create_field, over HTTP to the gateway's Airtable emulator), once; when that fails, the
onboarding reason says so and the records are written all the same."""

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pyairtable import Api
from sqlalchemy import select

from app.integrations.sandbox_tokens import sandbox_token
from app.provisioning.models import AmsProvisioning
from app.provisioning.upgrade import upgrade_base
from app.sandbox.airtable.models import SandboxTable
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import Tenant, create_tenant
from tests.helpers import Gateway, served_gateway, shopify_product
from tests.integration.test_ams_sync import PROVISION, ams_settings, push, synced_after

ADDED_IN_V3 = {"Archived", "Identity", "Linked Sources"}
EXPECTED = {  # the template's types
    "Products": {
        "Archived": "checkbox",
        "Identity": "singleLineText",
        "Linked Sources": "multilineText",
    },
    "Assets": {"Archived": "checkbox"},
    "Campaigns": {"Archived": "checkbox"},
    "Audience": {
        "Archived": "checkbox",
        "Identity": "singleLineText",
        "Linked Sources": "multilineText",
    },
}


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings, sandbox_airtable_fault_admin=True)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def provisioned_before_v3(gateway: Gateway, services: Services) -> tuple[Tenant, str]:
    """A tenant whose base is as template version 2 made it: none of the columns of v3."""
    acme = await create_tenant(services, "Acme", "test")
    provisioned = (await gateway.gql(PROVISION, key=acme.secret))["provisionClient"]
    base_id = provisioned["provisioning"]["baseId"]
    async with services.sessions() as session, session.begin():
        for table in await session.scalars(
            select(SandboxTable).where(SandboxTable.base_id == base_id)
        ):
            definition = dict(table.definition)
            definition["fields"] = [f for f in definition["fields"] if f["name"] not in ADDED_IN_V3]
            table.definition = definition
        row = await provisioning_row(session, acme)
        config = dict(row.config)
        config["templates"] = dict(config["templates"]) | {"airtable_base": 2}
        row.config = config
    return acme, base_id


async def provisioning_row(session: Any, tenant: Tenant) -> AmsProvisioning:
    row = await session.scalar(
        select(AmsProvisioning).where(AmsProvisioning.client_id == tenant.client_id)
    )
    assert row is not None
    return row


def columns(gateway: Gateway, tenant: Tenant, base_id: str) -> dict[str, dict[str, str]]:
    """Per table, the fields of v3 it has and their types, read with pyairtable."""
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    schema = Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable").base(base_id).schema()
    return {
        table.name: {f.name: f.type for f in table.fields if f.name in ADDED_IN_V3}
        for table in schema.tables
    }


def field_creations(gateway: Gateway) -> list[Any]:
    return [
        request
        for request in gateway.traffic.requests
        if request.method == "POST" and request.path.endswith("/fields") and request.status == 200
    ]


async def test_the_next_sync_adds_the_missing_columns_once(gateway, services):
    acme, base_id = await provisioned_before_v3(gateway, services)
    assert await asyncio.to_thread(columns, gateway, acme, base_id) == {t: {} for t in EXPECTED}

    await push(gateway, acme, [shopify_product(0)])
    view = await synced_after(gateway, acme, None)

    assert await asyncio.to_thread(columns, gateway, acme, base_id) == EXPECTED
    assert len(field_creations(gateway)) == 8  # one per missing column
    async with services.sessions() as session:
        row = await provisioning_row(session, acme)
    assert row.config["templates"]["airtable_base"] == 3 and row.error is None
    assert view["onboarding"]["reason"] is None

    # Idempotent: a later sync, or an upgrade of a base that has the columns, creates none.
    await push(gateway, acme, [shopify_product(1)])
    await synced_after(gateway, acme, view["amsSync"]["entities"][0]["lastSyncedAt"])
    async with services.sessions() as session, session.begin():
        row = await provisioning_row(session, acme)
        templates = dict(row.config["templates"]) | {"airtable_base": 2}
        row.config = dict(row.config) | {"templates": templates}
    tenant = TenantScope(acme.client_id, livemode=False)
    served = SimpleNamespace(settings=gateway.settings, sessions=services.sessions)
    upgraded = await upgrade_base(served, tenant, row)
    assert upgraded.config["templates"]["airtable_base"] == 3
    assert len(field_creations(gateway)) == 8
    assert await asyncio.to_thread(columns, gateway, acme, base_id) == EXPECTED


async def test_a_failed_upgrade_is_the_onboarding_reason_and_records_are_still_written(
    gateway, services
):
    acme, base_id = await provisioned_before_v3(gateway, services)
    token = sandbox_token(gateway.settings.secret_key, acme.client_id)
    burst = {"kind": "503", "count": 10_000, "matching": '"Linked Sources"'}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        armed = await client.post(
            "/sandbox/airtable/_faults",
            json={"bursts": [burst]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert armed.status_code == 200, armed.text

    await push(gateway, acme, [shopify_product(0)])
    view = await synced_after(gateway, acme, None)

    assert view["amsSync"]["entities"][0]["written"] == 1  # the columns it has
    reason = view["onboarding"]["reason"]
    assert view["onboarding"]["status"] != "PRODUCTION_READY"
    assert reason.startswith(f"The Airtable base {base_id} was made from an older AMS template")
    assert "503" in reason and "The next sync tries again" in reason
    async with services.sessions() as session:
        row = await provisioning_row(session, acme)
    assert row.config["templates"]["airtable_base"] == 2
