"""Pushing assets to the client's AMS: each changed asset's file is fetched from a real local
origin (allowed for the sandbox by the operator's allow-list), stored in the Drive emulator
through the real google client, and its Assets row written with pyairtable over HTTP carrying the
Drive file id and link. A file that cannot be stored rejects its record with the reason; one that
may succeed later leaves the sync due until it does."""

import asyncio
import hashlib
import ipaddress
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pyairtable import Api
from sqlalchemy import select

from app.ams.fieldmap import table_maps
from app.contracts.entities import Entity
from app.integrations.sandbox_tokens import sandbox_token
from app.provisioning import templates
from app.sandbox.drive.models import DriveFile
from app.services import Services
from app.settings import ROOT_DIR, Settings
from tests.conftest import Tenant, create_tenant
from tests.helpers import Gateway, eventually, free_port, ingest_mutation, served_gateway
from tests.integration.test_ams_sync import (
    EVENTS,
    USAGE,
    ams_settings,
    base_of,
    entity_sync,
    viewer,
)
from tests.unit.test_asset_fetch_origin import PNG, Origin, running_origin

FOLDER_MIME_TYPE = "application/vnd.google-apps.folder"


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(
        fast_sandbox_settings,
        asset_fetch_sandbox_allowed_networks=[ipaddress.IPv4Network("127.0.0.1/32")],
    )


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


@pytest.fixture
def origin() -> Iterator[Origin]:
    with running_origin() as running:
        yield running


def asset(external_id: str, url: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "kind": "image",
        "title": f"Asset {external_id}",
        "source_url": url,
        **fields,
    }


async def push(gateway: Gateway, tenant: Tenant, records: list[dict[str, Any]]) -> None:
    data = await gateway.gql(
        ingest_mutation("asset"), {"input": {"records": records}}, key=tenant.secret
    )
    assert data["ingestAssets"]["errors"] == [], data


async def synced_after(gateway: Gateway, tenant: Tenant, since: str | None) -> dict[str, Any]:
    """The viewer once an asset sync finished after `since` and nothing is pending."""

    async def done() -> dict[str, Any] | None:
        view = await viewer(gateway, tenant)
        state = entity_sync(view, "ASSET")
        if state is None or state["pending"] or not state["lastSyncedAt"]:
            return None
        return view if since is None or state["lastSyncedAt"] > since else None

    found: dict[str, Any] = await eventually(done)
    return found


def asset_rows(gateway: Gateway, tenant: Tenant, base_id: str) -> dict[str, dict[str, Any]]:
    """The Assets table by external id, read with the real pyairtable."""
    token = sandbox_token(gateway.settings.secret_key, tenant.client_id)
    api = Api(token, endpoint_url=f"{gateway.url}/sandbox/airtable")
    rows = api.table(base_id, "Assets").all()
    return {row["fields"]["External ID"]: row["fields"] for row in rows}


async def drive_files(services: Services, tenant: Tenant) -> list[DriveFile]:
    async with services.sessions() as session:
        found = await session.scalars(
            select(DriveFile).where(
                DriveFile.client_id == tenant.client_id, DriveFile.mime_type != FOLDER_MIME_TYPE
            )
        )
        return list(found)


async def uploaded_events(gateway: Gateway, tenant: Tenant) -> list[dict[str, Any]]:
    found = await gateway.gql(EVENTS, {"type": "asset.uploaded"}, key=tenant.secret)
    return [event["body"]["data"] for event in found["events"]["nodes"]]


async def test_a_pushed_asset_lands_in_drive_and_its_row_carries_the_drive_file(
    gateway, services, origin
):
    acme = await create_tenant(services, "Acme", "test")
    url = origin.serve("front.png", PNG, "image/png")

    await push(gateway, acme, [asset("img-1", url)])
    view = await synced_after(gateway, acme, None)

    assert (entity_sync(view, "ASSET")["written"], entity_sync(view, "ASSET")["rejected"]) == (1, 0)
    [file] = await drive_files(services, acme)
    assert file.size == len(PNG) and file.app_properties["gateway_external_id"] == "img-1"
    assert file.app_properties["gateway_sha256"] == hashlib.sha256(PNG).hexdigest()
    folders = view["amsConfig"]["server"]["drive"]["asset_folders"]
    assert file.parent_id == folders["image"]
    rows = await asyncio.to_thread(asset_rows, gateway, acme, base_of(view))
    row = rows["img-1"]
    assert row["Drive File ID"] == file.id
    assert row["Drive URL"].endswith(f"/files/{file.id}?alt=media")
    assert row["Source URL"] == url and row["Title"] == "Asset img-1"
    [event] = await uploaded_events(gateway, acme)
    assert event["external_id"] == "img-1" and event["source_platform"] == "shopify"
    assert (event["kind"], event["file_id"], event["folder_id"]) == (
        "image",
        file.id,
        file.parent_id,
    )
    assert event["job_id"] and event["uploaded_at"]


async def test_pushing_the_same_asset_again_uploads_nothing_and_announces_nothing(
    gateway, services, origin
):
    acme = await create_tenant(services, "Acme", "test")
    url = origin.serve("front.png", PNG, "image/png")
    await push(gateway, acme, [asset("img-1", url)])
    first = await synced_after(gateway, acme, None)
    [stored] = await drive_files(services, acme)
    fetches = len(origin.requests)

    await push(gateway, acme, [asset("img-1", url)])  # identical: nothing to do
    again = await synced_after(gateway, acme, entity_sync(first, "ASSET")["lastSyncedAt"])
    assert entity_sync(again, "ASSET")["written"] == 0
    assert len(origin.requests) == fetches

    # New metadata, same bytes: the row is rewritten, the file is fetched but not replaced.
    retitled = asset("img-1", url, alt_text="Front view", source_updated_at="2026-11-02T10:00:00Z")
    await push(gateway, acme, [retitled])
    last = await synced_after(gateway, acme, entity_sync(again, "ASSET")["lastSyncedAt"])

    assert entity_sync(last, "ASSET")["written"] == 1
    [file] = await drive_files(services, acme)
    assert (file.id, file.modified_at, file.md5) == (stored.id, stored.modified_at, stored.md5)
    rows = await asyncio.to_thread(asset_rows, gateway, acme, base_of(last))
    assert rows["img-1"]["Alt Text"] == "Front view"
    assert rows["img-1"]["Drive File ID"] == file.id
    assert len(await uploaded_events(gateway, acme)) == 1  # the first upload's only
    day = datetime.now(UTC).date().isoformat()
    usage = await gateway.gql(USAGE, {"from": day, "to": day}, key=acme.secret)
    metered = {row["metric"]: row["value"] for row in usage["viewer"]["usage"]}
    assert metered["drive.bytes_stored"] == len(PNG)  # bytes the gateway put into Drive


async def test_an_asset_that_cannot_be_fetched_is_rejected_and_its_neighbour_is_written(
    gateway, services, origin
):
    acme = await create_tenant(services, "Acme", "test")
    good = asset("img-ok", origin.serve("front.png", PNG, "image/png"))
    blocked = asset("img-blocked", "http://169.254.169.254/latest/meta-data/front.png")
    missing = asset("img-missing", origin.url("/file/gone.png"))

    await push(gateway, acme, [blocked, good, missing])
    view = await synced_after(gateway, acme, None)

    state = entity_sync(view, "ASSET")
    assert (state["written"], state["rejected"]) == (1, 2)
    rejected = {r["externalId"]: r for r in view["amsSync"]["records"]["nodes"]}
    assert set(rejected) == {"img-blocked", "img-missing"}
    assert rejected["img-blocked"]["errorType"] == "asset_address_blocked"
    assert "169.254.169.254" in rejected["img-blocked"]["errorMessage"]
    assert rejected["img-missing"]["errorType"] == "asset_http_status"
    assert "404" in rejected["img-missing"]["errorMessage"]
    rows = await asyncio.to_thread(asset_rows, gateway, acme, base_of(view))
    [file] = await drive_files(services, acme)
    assert list(rows) == ["img-ok"] and rows["img-ok"]["Drive File ID"] == file.id
    assert [e["external_id"] for e in await uploaded_events(gateway, acme)] == ["img-ok"]


class _PngHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)


async def test_an_unreachable_origin_leaves_the_sync_due_until_the_file_can_be_fetched(
    gateway, services
):
    acme = await create_tenant(services, "Acme", "test")
    port = free_port()  # nothing listens there yet
    await push(gateway, acme, [asset("img-late", f"http://127.0.0.1:{port}/late.png")])

    async def deferred() -> dict[str, Any] | None:
        view = await viewer(gateway, acme)
        state = entity_sync(view, "ASSET")
        return view if state and state["error"] and state["lastSyncedAt"] else None

    view = await eventually(deferred)
    state = entity_sync(view, "ASSET")
    assert state["pending"] and (state["written"], state["rejected"]) == (0, 0)
    assert "will be retried" in state["error"]
    assert view["amsSync"]["records"]["nodes"] == []

    server = ThreadingHTTPServer(("127.0.0.1", port), _PngHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = await synced_after(gateway, acme, None)
    finally:
        server.shutdown()
        server.server_close()

    assert entity_sync(done, "ASSET")["error"] is None
    [file] = await drive_files(services, acme)
    rows = await asyncio.to_thread(asset_rows, gateway, acme, base_of(done))
    assert rows["img-late"]["Drive File ID"] == file.id
    assert len(await uploaded_events(gateway, acme)) == 1


def test_the_asset_map_writes_the_drive_file_into_the_template_columns():
    assets = table_maps(ROOT_DIR / "contracts")[Entity.ASSET]
    template = {t["name"]: t for t in templates.base_tables(ROOT_DIR / "contracts")}
    columns = {f["name"]: f["type"] for f in template[assets.table]["fields"]}
    paths = {column.name: column.paths for column in assets.columns}
    assert (
        paths["Drive File ID"] == ("drive.file_id",)
        and columns["Drive File ID"] == "singleLineText"
    )
    assert paths["Drive URL"] == ("drive.url",) and columns["Drive URL"] == "url"
