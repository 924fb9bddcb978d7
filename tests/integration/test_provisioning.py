"""Provisioning a client's AMS through `provisionClient`, against the gateway's own sandbox over
HTTP: the base read back with the real pyairtable, the folders with the Drive adapter."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pyairtable import Api
from sqlalchemy import select

from app.integrations.routing import AmsClients, ams_for
from app.integrations.sandbox_tokens import sandbox_token
from app.provisioning import service as provisioning
from app.sandbox.drive.models import DrivePermission
from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import GraphQL, Tenant, create_tenant

TABLES = ["Products", "Assets", "Campaigns", "Audience"]
SYNC_FIELDS = {
    "External ID": "singleLineText",
    "Source": "singleSelect",
    "Source Updated At": "dateTime",
    "Synced At": "dateTime",
}
FOLDER_ROLES = {
    "root",
    "Assets",
    "Assets/Images",
    "Assets/Videos",
    "Assets/Audio",
    "Assets/Documents",
    "Exports",
}

PROVISION = """
mutation {
  provisionClient {
    provisioning { status baseId rootFolderId folderIds configVersion amsConfig error }
    onboarding { status connectedAt provisionedAt reason }
    errors { code message }
  }
}
"""
VIEWER = "{ viewer { amsConfig onboarding { status reason connectedAt provisionedAt } } }"


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return fast_sandbox_settings


@pytest.fixture
async def gateway(live_gateway: Any) -> AsyncIterator[GraphQL]:
    async with httpx.AsyncClient(base_url=live_gateway.url, timeout=30) as client:
        yield GraphQL(client)


@pytest.fixture
async def gateway_services(live_gateway: Any) -> AsyncIterator[Services]:
    """Services configured like the live gateway (so the sandbox is reached on its port)."""
    services = Services.create(live_gateway.settings)
    yield services
    await services.engine.dispose()


def scope(tenant: Tenant) -> TenantScope:
    return TenantScope(tenant.client_id, livemode=False)


def ams(live_gateway: Any, tenant: Tenant) -> AmsClients:
    return ams_for(scope(tenant), live_gateway.settings)


async def provision(gateway: GraphQL, tenant: Tenant) -> dict[str, Any]:
    data = await gateway(PROVISION, key=tenant.secret)
    payload: dict[str, Any] = data["provisionClient"]
    assert payload["errors"] == [], payload
    return payload


def read_base(live_gateway: Any, tenant: Tenant, base_id: str) -> dict[str, dict[str, str]]:
    """Table name → field name → type, through the real pyairtable with a sandbox token."""
    token = sandbox_token(live_gateway.settings.secret_key, tenant.client_id)
    api = Api(token, endpoint_url=f"{live_gateway.url}/sandbox/airtable")
    schema = api.base(base_id).schema(force=True)
    return {table.name: {f.name: f.type for f in table.fields} for table in schema.tables}


async def folders_of(live_gateway: Any, tenant: Tenant) -> dict[str, Any]:
    drive = ams(live_gateway, tenant).drive
    found = await asyncio.to_thread(drive.find_by_app_property, "gateway_client", tenant.client_id)
    return {folder.app_properties["gateway_role"]: folder for folder in found}


async def bases_of(live_gateway: Any, tenant: Tenant) -> list[str]:
    bases = await asyncio.to_thread(ams(live_gateway, tenant).airtable.list_bases)
    return [base.id for base in bases]


async def test_provision_client_creates_the_base_folders_and_config(
    live_gateway, services, gateway
):
    acme = await create_tenant(services, "Acme Shoes", "test")

    payload = await provision(gateway, acme)

    result = payload["provisioning"]
    assert result["status"] == "PROVISIONED" and result["configVersion"] == 1
    assert payload["onboarding"]["status"] == "CONNECTED"
    assert payload["onboarding"]["connectedAt"] and payload["onboarding"]["provisionedAt"]

    tables = await asyncio.to_thread(read_base, live_gateway, acme, result["baseId"])
    assert list(tables) == TABLES
    for fields in tables.values():
        assert SYNC_FIELDS.items() <= fields.items()
    assert tables["Products"]["Name"] == "singleLineText"
    assert tables["Products"]["Price"] == "currency"
    assert tables["Audience"]["Email"] == "email"
    assert tables["Audience"]["Phone"] == "phoneNumber"

    folders = await folders_of(live_gateway, acme)
    assert set(folders) == FOLDER_ROLES
    assert result["folderIds"] == {role: folder.id for role, folder in folders.items()}
    assert result["rootFolderId"] == folders["root"].id
    assert folders["Assets/Images"].parents == [folders["Assets"].id]
    assert folders["Exports"].parents == [folders["root"].id]
    assert folders["root"].name == f"Acme Shoes AMS ({acme.client_id})"

    async with services.sessions() as session:
        grants = (
            await session.scalars(
                select(DrivePermission).where(DrivePermission.file_id == folders["root"].id)
            )
        ).all()
    assert [(g.type, g.role, g.email_address) for g in grants] == [
        ("group", "writer", "ams-service@digicon.example")
    ]

    viewer = (await gateway(VIEWER, key=acme.secret))["viewer"]
    config = viewer["amsConfig"]
    assert config == result["amsConfig"]
    assert config["use_for"].startswith("acme-shoes-")
    assert config["server"]["airtable"]["base_id"] == result["baseId"]
    assert sorted(config["server"]["airtable"]["tables"]) == sorted(TABLES)
    assert config["server"]["drive"]["folders"] == result["folderIds"]
    assert config["server"]["drive"]["asset_folders"]["image"] == folders["Assets/Images"].id
    assert config["pipeline"] == {
        "language": "en",
        "currency": "EUR",
        "content_types": ["image", "video", "audio", "document"],
    }
    assert viewer["onboarding"]["status"] == "CONNECTED"


async def test_provisioning_twice_creates_nothing_new(live_gateway, services, gateway):
    acme = await create_tenant(services, "Acme", "test")
    first = (await provision(gateway, acme))["provisioning"]

    second = (await provision(gateway, acme))["provisioning"]

    assert second["baseId"] == first["baseId"]
    assert second["folderIds"] == first["folderIds"]
    assert second["configVersion"] == first["configVersion"] == 1
    assert await bases_of(live_gateway, acme) == [first["baseId"]]
    assert len(await folders_of(live_gateway, acme)) == len(FOLDER_ROLES)


async def test_a_crash_half_way_is_completed_without_duplicates(
    live_gateway, services, gateway_services, gateway
):
    acme = await create_tenant(services, "Acme", "test")
    target = await provisioning.prepare(gateway_services, scope(acme))
    base_id = await provisioning.ensure_base(gateway_services, target)
    # the crash hit after Drive made the root folder but before the row recorded it
    orphan_root = await asyncio.to_thread(
        target.ams.drive.ensure_folder, f"Acme AMS ({acme.client_id})", None, {}
    )
    viewer = (await gateway(VIEWER, key=acme.secret))["viewer"]
    assert viewer["amsConfig"] is None and viewer["onboarding"]["status"] is None

    result = (await provision(gateway, acme))["provisioning"]

    assert result["baseId"] == base_id
    assert await bases_of(live_gateway, acme) == [base_id]
    assert result["rootFolderId"] == orphan_root
    drive = ams(live_gateway, acme).drive
    everything = await asyncio.to_thread(
        drive.find_by_app_property, "gateway_client", acme.client_id
    )
    assert sorted(f.id for f in everything) == sorted(
        folder_id for role, folder_id in result["folderIds"].items() if role != "root"
    )
    assert result["status"] == "PROVISIONED" and result["configVersion"] == 1


async def test_another_client_sees_nothing_of_it(live_gateway, services, gateway):
    acme = await create_tenant(services, "Acme", "test")
    globex = await create_tenant(services, "Globex", "test")
    acme_result = (await provision(gateway, acme))["provisioning"]

    viewer = (await gateway(VIEWER, key=globex.secret))["viewer"]
    assert viewer["amsConfig"] is None
    assert viewer["onboarding"]["status"] is None and viewer["onboarding"]["reason"]
    assert await bases_of(live_gateway, globex) == []
    assert await folders_of(live_gateway, globex) == {}
    globex_drive = ams(live_gateway, globex).drive
    assert (
        await asyncio.to_thread(globex_drive.find_by_app_property, "gateway_client", acme.client_id)
        == []
    )

    globex_result = (await provision(gateway, globex))["provisioning"]
    assert globex_result["baseId"] != acme_result["baseId"]
    assert set(globex_result["folderIds"].values()).isdisjoint(acme_result["folderIds"].values())
    assert await bases_of(live_gateway, acme) == [acme_result["baseId"]]


async def test_overlapping_calls_never_make_a_second_base(live_gateway, services, gateway):
    acme = await create_tenant(services, "Acme", "test")

    answers = await asyncio.gather(*(gateway(PROVISION, key=acme.secret) for _ in range(3)))

    outcomes = [answer["provisionClient"] for answer in answers]
    refused = [o["errors"] for o in outcomes if o["errors"]]
    assert all(e == [e[0]] and e[0]["code"] == "provisioning_in_progress" for e in refused)
    assert len(refused) < len(outcomes)
    final = (await provision(gateway, acme))["provisioning"]
    assert await bases_of(live_gateway, acme) == [final["baseId"]]
    assert len(await folders_of(live_gateway, acme)) == len(FOLDER_ROLES)
    assert final["configVersion"] == 1


async def test_the_config_version_moves_only_when_the_config_changes(
    live_gateway, services, gateway
):
    acme = await create_tenant(services, "Acme", "test")
    first = (await provision(gateway, acme))["provisioning"]
    assert first["amsConfig"]["pipeline"]["currency"] == "EUR"

    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, acme.client_id, currency="usd")
    changed = (await provision(gateway, acme))["provisioning"]

    assert changed["configVersion"] == 2
    assert changed["amsConfig"]["pipeline"]["currency"] == "USD"
    assert changed["baseId"] == first["baseId"]
    assert changed["folderIds"] == first["folderIds"]
    viewer = (await gateway(VIEWER, key=acme.secret))["viewer"]
    assert viewer["amsConfig"] == changed["amsConfig"]
