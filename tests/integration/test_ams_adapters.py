"""The AMS adapters, through the real pyairtable and google clients over HTTP against the gateway's
own sandbox: where a client's writes go, what the adapters do there, and who may see it."""

import asyncio
import hashlib
import os
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.errors import GatewayError
from app.integrations.airtable import AirtableClient, GuardedAirtableClient, PyAirtableClient
from app.integrations.drive import BearerKey, DriveClient, GoogleDriveClient, sandbox_service
from app.integrations.errors import AmsNotConfigured, AmsRequestError
from app.integrations.routing import AmsClients, ams_for
from app.integrations.sandbox_tokens import sandbox_token, verify_sandbox_token
from app.sandbox.drive.models import DriveUpload
from app.settings import Settings
from app.tenancy.models import KeyMode, Principal
from tests.conftest import create_tenant, make_settings

WORKSPACE = "wspSANDBOX0000001"
PRODUCTS: dict[str, Any] = {
    "name": "Products",
    "fields": [
        {"name": "External ID", "type": "singleLineText"},
        {"name": "Name", "type": "singleLineText"},
        {"name": "Price", "type": "currency", "options": {"precision": 2, "symbol": "$"}},
    ],
}
MB = 1024 * 1024


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return fast_sandbox_settings


def principal(client_id: str, mode: KeyMode) -> Principal:
    return Principal(key_id="key_test", client_id=client_id, mode=mode)


async def sandbox_clients(live_gateway: Any, services: Any, name: str) -> tuple[str, AmsClients]:
    tenant = await create_tenant(services, name, "test")
    return tenant.client_id, ams_for(
        principal(tenant.client_id, KeyMode.TEST).tenant, live_gateway.settings
    )


async def test_a_test_client_writes_to_the_gateways_own_sandbox(live_gateway, services):
    _, ams = await sandbox_clients(live_gateway, services, "Acme")

    assert ams.sandbox
    assert ams.airtable_endpoint == f"{live_gateway.url}/sandbox/airtable"
    assert isinstance(ams.airtable, GuardedAirtableClient)  # every call through its circuit
    assert isinstance(ams.airtable.inner, PyAirtableClient)
    assert ams.airtable.endpoint_url == f"{live_gateway.url}/sandbox/airtable"
    assert isinstance(ams.drive, GoogleDriveClient)
    assert ams.drive.root_url == f"{live_gateway.url}/sandbox/drive/"
    assert await asyncio.to_thread(ams.airtable.list_bases) == []


def test_a_live_client_is_never_sent_to_the_sandbox(settings, tmp_path):
    live = principal("cli_live", KeyMode.LIVE).tenant
    with pytest.raises(AmsNotConfigured) as unconfigured:
        ams_for(live, settings)
    assert unconfigured.value.code == "ams_credentials_missing"  # see test_ams_credentials
    assert "GATEWAY_AIRTABLE_API_TOKEN" in unconfigured.value.message

    half = settings.model_copy(update={"airtable_api_token": SecretStr("patLIVE")})
    with pytest.raises(AmsNotConfigured) as half_configured:
        ams_for(live, half)
    assert "GATEWAY_DRIVE_SERVICE_ACCOUNT_FILE" in half_configured.value.message

    account = tmp_path / "service-account.json"
    account.write_text("{}")
    configured = half.model_copy(update={"drive_service_account_file": account})
    ams = ams_for(live, configured)
    assert not ams.sandbox
    assert ams.airtable_endpoint == "https://api.airtable.com"
    assert ams.drive_root_url == "https://www.googleapis.com/"


def test_a_test_client_on_a_gateway_without_sandbox_has_nowhere_to_write(database_url):
    no_sandbox = make_settings(database_url, sandbox_enabled=False)
    with pytest.raises(AmsNotConfigured):
        ams_for(principal("cli_test", KeyMode.TEST).tenant, no_sandbox)


def test_a_sandbox_token_names_its_client_and_cannot_be_forged():
    token = sandbox_token("k1", "cli_01abc")
    assert token.startswith("gw_sbx_cli_01abc_")
    assert verify_sandbox_token("k1", token) == "cli_01abc"
    assert verify_sandbox_token("k2", token) is None
    assert verify_sandbox_token("k1", token.replace("cli_01abc", "cli_01abd")) is None
    assert verify_sandbox_token("k1", token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert verify_sandbox_token("k1", "gw_test_0123456789ab_" + "0" * 48) is None


def product(number: int, price: float) -> dict[str, Any]:
    return {"External ID": f"shopify-{number}", "Name": f"Product {number}", "Price": price}


def _airtable_round_trip(airtable: AirtableClient) -> str:
    base = airtable.create_base(WORKSPACE, "Acme AMS", [PRODUCTS])
    [table] = airtable.base_schema(base.id)
    assert table.name == "Products" and table.primary_field_id == table.fields[0].id
    assert [b.id for b in airtable.list_bases()] == [base.id]

    first = airtable.batch_upsert(
        base.id, "Products", [product(n, n * 1.0) for n in range(25)], ["External ID"]
    )
    assert (len(first.created), len(first.updated)) == (25, 0)
    second = airtable.batch_upsert(
        base.id, "Products", [product(n, n * 2.0) for n in range(25)], ["External ID"]
    )
    assert (len(second.created), len(second.updated)) == (0, 25)
    assert sorted(second.updated) == sorted(first.created)

    records = airtable.list_records(base.id, "Products")
    assert len(records) == 25
    assert {r.fields["External ID"]: r.fields["Price"] for r in records} == {
        f"shopify-{n}": n * 2.0 for n in range(25)
    }
    [seven] = airtable.list_records(base.id, "Products", formula="{External ID} = 'shopify-7'")
    assert airtable.batch_delete(base.id, "Products", [seven.id]) == [seven.id]
    assert len(airtable.list_records(base.id, "Products")) == 24
    return base.id


def _drive_round_trip(drive: DriveClient, client_id: str) -> dict[str, str]:
    tagged = {"clientId": client_id}
    root = drive.ensure_folder("Acme", None, tagged)
    assets = drive.ensure_folder("Assets", root)
    images = drive.ensure_folder("Images", assets)
    assert drive.ensure_folder("Acme", None, tagged) == root
    assert drive.ensure_folder("Assets", root) == assets
    assert drive.ensure_folder("Images", assets) == images
    assert drive.ensure_folder("Kid's Room", assets) == drive.ensure_folder("Kid's Room", assets)
    assert [f.id for f in drive.find_by_app_property("clientId", client_id)] == [root]

    small = os.urandom(50_000)
    logo = drive.upload("logo.png", images, "image/png", small, {"sku": "A-1"})
    assert (logo.size, logo.md5, logo.parents) == (
        len(small),
        hashlib.md5(small).hexdigest(),
        [images],
    )
    big = os.urandom(6 * MB)
    video = drive.upload("teaser.mp4", images, "video/mp4", big)
    assert (video.size, video.md5) == (len(big), hashlib.md5(big).hexdigest())
    assert [f.id for f in drive.find_by_app_property("sku", "A-1")] == [logo.id]

    permission = drive.share(root, "ops@digicon.example", "writer", "user")
    assert permission
    return {"root": root, "logo": logo.id, "video": video.id}


async def test_the_airtable_adapter_creates_upserts_lists_and_deletes(live_gateway, services):
    _, ams = await sandbox_clients(live_gateway, services, "Acme")
    await asyncio.to_thread(_airtable_round_trip, ams.airtable)


async def test_the_drive_adapter_builds_a_tree_idempotently_uploads_and_shares(
    live_gateway, services
):
    client_id, ams = await sandbox_clients(live_gateway, services, "Acme")
    ids = await asyncio.to_thread(_drive_round_trip, ams.drive, client_id)

    async with services.sessions() as session:
        uploads = (await session.scalars(select(DriveUpload))).all()
    assert [u.file_id for u in uploads] == [ids["video"]]  # only the 6 MB file went resumable


async def test_another_clients_sandbox_token_sees_nothing(live_gateway, services):
    acme_id, acme = await sandbox_clients(live_gateway, services, "Acme")
    base_id = await asyncio.to_thread(_airtable_round_trip, acme.airtable)
    ids = await asyncio.to_thread(_drive_round_trip, acme.drive, acme_id)
    _, globex = await sandbox_clients(live_gateway, services, "Globex")

    assert await asyncio.to_thread(globex.airtable.list_bases) == []
    with pytest.raises(AmsRequestError) as refused:
        await asyncio.to_thread(globex.airtable.list_records, base_id, "Products")
    assert (refused.value.status, refused.value.error_type) == (
        403,
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
    )
    assert await asyncio.to_thread(globex.drive.find_by_app_property, "clientId", acme_id) == []
    with pytest.raises(AmsRequestError) as hidden:
        await asyncio.to_thread(globex.drive.share, ids["root"], "x@globex.example", "reader")
    assert (hidden.value.status, hidden.value.error_type) == (404, "notFound")


async def test_a_forged_sandbox_token_is_refused(live_gateway, services):
    tenant = await create_tenant(services, "Acme", "test")
    forged = [
        sandbox_token("not-the-gateways-key", tenant.client_id),
        sandbox_token(live_gateway.settings.secret_key, "cli_doesnotexist"),
    ]
    root = f"{live_gateway.url}/sandbox/drive/"
    for token in forged:
        airtable = PyAirtableClient(token, endpoint_url=f"{live_gateway.url}/sandbox/airtable")
        with pytest.raises(AmsRequestError) as refused:
            await asyncio.to_thread(airtable.list_bases)
        assert (refused.value.status, refused.value.error_type) == (401, "AUTHENTICATION_REQUIRED")

        drive = GoogleDriveClient(partial(sandbox_service, root, BearerKey(token)), root)
        with pytest.raises(AmsRequestError) as refused_drive:
            await asyncio.to_thread(drive.find_by_app_property, "k", "v")
        assert (refused_drive.value.status, refused_drive.value.error_type) == (401, "authError")
    assert isinstance(refused.value, GatewayError)
