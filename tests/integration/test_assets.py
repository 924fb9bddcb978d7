"""Storing assets in a provisioned sandbox client's Drive through the real google client over
HTTP: fetched from a real local origin (allowed for the sandbox by the operator's allow-list),
uploaded once into the folder for their kind, found again by their appProperties, and refused
with a precise reason when they cannot be stored."""

import asyncio
import base64
import hashlib
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from app.assets.errors import (
    AssetAddressBlocked,
    AssetChecksumMismatch,
    AssetDnsFailed,
    AssetError,
    AssetFolderMissing,
    AssetHttpStatus,
    AssetInvalid,
    AssetTimeout,
    AssetTooLarge,
    AssetUnreachable,
    AssetWrongContentType,
)
from app.assets.fetch import AssetFetcher, FetchLimits
from app.assets.guard import AddressPolicy
from app.assets.service import StoredAsset, StoreOutcome, asset_folders, store_asset
from app.integrations.drive import BearerKey, sandbox_service
from app.integrations.routing import ams_for
from app.integrations.sandbox_tokens import sandbox_token
from app.provisioning import service as provisioning
from app.sandbox.drive.models import DriveFile, DriveUpload
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Tenant
from tests.conftest import create_tenant
from tests.unit.test_asset_fetch_origin import PNG, Origin, running_origin

RESUMABLE_ABOVE = 300_000
MAX_BYTES = 2_000_000


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return fast_sandbox_settings.model_copy(
        update={
            "asset_fetch_sandbox_allowed_networks": [ipaddress.IPv4Network("127.0.0.1/32")],
            "asset_resumable_threshold_bytes": RESUMABLE_ABOVE,
            "asset_max_bytes": MAX_BYTES,
        }
    )


@pytest.fixture
async def gateway_services(live_gateway: Any) -> AsyncIterator[Services]:
    """Services configured like the live gateway (so the sandbox is reached on its port)."""
    services = Services.create(live_gateway.settings)
    yield services
    await services.engine.dispose()


@pytest.fixture
def origin() -> Iterator[Origin]:
    with running_origin() as running:
        yield running


class Client:
    """A provisioned test-mode client and the verbs the tests use on its Drive."""

    def __init__(self, services: Services, tenant: Tenant, folders: dict[str, str]) -> None:
        self.services = services
        self.tenant = tenant
        self.folders = folders
        self.ams = ams_for(tenant, services.settings)

    async def store(self, asset: dict[str, Any], **kwargs: Any) -> StoredAsset:
        return await store_asset(self.services, self.tenant, asset, self.folders, **kwargs)

    def download(self, file_id: str) -> bytes:
        token = sandbox_token(self.services.settings.secret_key, self.tenant.client_id)
        drive = sandbox_service(self.ams.drive_root_url, BearerKey(token))
        return bytes(drive.files().get_media(fileId=file_id).execute())

    async def files_in(self, kind: str) -> list[DriveFile]:
        async with self.services.sessions() as session:
            rows = await session.scalars(
                select(DriveFile).where(DriveFile.parent_id == self.folders[kind])
            )
            return list(rows)

    async def resumable_sessions(self) -> list[DriveUpload]:
        async with self.services.sessions() as session:
            rows = await session.scalars(
                select(DriveUpload).where(DriveUpload.client_id == self.tenant.client_id)
            )
            return list(rows)

    async def file_count(self) -> int:
        async with self.services.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(DriveFile)
                .where(
                    DriveFile.client_id == self.tenant.client_id,
                    DriveFile.mime_type != "application/vnd.google-apps.folder",
                )
            )
        return int(count or 0)


@pytest.fixture
async def client(services: Services, gateway_services: Services) -> Client:
    created = await create_tenant(services, "Acme Shoes", "test")
    tenant = Tenant(created.client_id, livemode=False)
    await provisioning.provision(gateway_services, tenant)
    folders = await asset_folders(gateway_services, tenant)
    assert set(folders) == {"image", "video", "audio", "document"}
    return Client(gateway_services, tenant, folders)


def asset(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "kind": "image",
        **fields,
    }


async def test_a_small_image_goes_multipart_into_the_images_folder(
    client: Client, origin: Origin
) -> None:
    url = origin.serve("front.png", PNG, "image/png")

    stored = await client.store(asset("img-1", source_url=url))

    assert stored.outcome is StoreOutcome.CREATED and stored.uploaded
    assert (stored.name, stored.mime_type, stored.size) == ("front.png", "image/png", len(PNG))
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
    assert stored.web_link.endswith(f"/files/{stored.file_id}?alt=media")
    [row] = await client.files_in("image")
    assert row.id == stored.file_id
    assert row.app_properties["gateway_client"] == client.tenant.client_id
    assert row.app_properties["gateway_external_id"] == "img-1"
    assert row.app_properties["gateway_sha256"] == stored.sha256
    assert (
        row.app_properties["gateway_source_url_sha256"] == hashlib.sha256(url.encode()).hexdigest()
    )
    assert await asyncio.to_thread(client.download, stored.file_id) == PNG
    assert await client.resumable_sessions() == []


async def test_a_large_video_goes_resumable_into_the_videos_folder(
    client: Client, origin: Origin
) -> None:
    video = os.urandom(RESUMABLE_ABOVE * 2 + 1234)
    url = origin.serve("teaser.mp4", video, "video/mp4")

    stored = await client.store(asset("vid-1", kind="video", source_url=url))

    assert stored.outcome is StoreOutcome.CREATED and stored.size == len(video)
    assert [row.id for row in await client.files_in("video")] == [stored.file_id]
    assert [s.file_id for s in await client.resumable_sessions()] == [stored.file_id]
    assert await asyncio.to_thread(client.download, stored.file_id) == video


async def test_storing_an_unchanged_asset_again_uploads_nothing(
    client: Client, origin: Origin
) -> None:
    url = origin.serve("front.png", PNG, "image/png")
    first = await client.store(asset("img-1", source_url=url))

    again = await client.store(asset("img-1", source_url=url))

    assert again.outcome is StoreOutcome.UNCHANGED and not again.uploaded
    assert (again.file_id, again.sha256, again.size) == (first.file_id, first.sha256, first.size)
    assert await client.file_count() == 1

    declared = asset("img-1", source_url=url, sha256=first.sha256)
    requests_before = len(origin.requests)
    known = await client.store(declared)
    assert known.outcome is StoreOutcome.UNCHANGED and known.file_id == first.file_id
    assert len(origin.requests) == requests_before  # a declared, known hash is not fetched


async def test_changed_bytes_replace_the_content_of_the_same_file(
    client: Client, origin: Origin
) -> None:
    url = origin.serve("front.png", PNG, "image/png")
    first = await client.store(asset("img-1", source_url=url))
    changed = PNG + b"retouched"
    origin.serve("front.png", changed, "image/png")

    second = await client.store(asset("img-1", source_url=url))

    assert second.outcome is StoreOutcome.UPDATED
    assert second.file_id == first.file_id
    assert second.sha256 == hashlib.sha256(changed).hexdigest() != first.sha256
    assert await asyncio.to_thread(client.download, first.file_id) == changed

    large = os.urandom(RESUMABLE_ABOVE * 2)
    origin.serve("front.png", large, "image/png")
    third = await client.store(asset("img-1", source_url=url))
    assert (third.outcome, third.file_id, third.size) == (
        StoreOutcome.UPDATED,
        first.file_id,
        len(large),
    )
    assert [s.file_id for s in await client.resumable_sessions()] == [first.file_id]
    assert await asyncio.to_thread(client.download, first.file_id) == large
    assert await client.file_count() == 1


async def test_inline_content_is_stored_like_fetched_content(client: Client) -> None:
    pdf = b"%PDF-1.7\n" + os.urandom(5000)
    inline = asset(
        "doc-1",
        kind="document",
        filename="care-guide.pdf",
        content_base64=base64.b64encode(pdf).decode(),
    )

    stored = await client.store(inline)

    assert (stored.name, stored.mime_type) == ("care-guide.pdf", "application/pdf")
    assert [row.id for row in await client.files_in("document")] == [stored.file_id]
    assert "gateway_source_url_sha256" not in (await client.files_in("document"))[0].app_properties
    assert await asyncio.to_thread(client.download, stored.file_id) == pdf


async def test_the_same_external_id_from_another_platform_is_another_asset(
    client: Client, origin: Origin
) -> None:
    url = origin.serve("front.png", PNG, "image/png")
    shopify = await client.store(asset("img-1", source_url=url))

    woo = await client.store(asset("img-1", source_url=url, source_platform="woocommerce"))

    assert woo.outcome is StoreOutcome.CREATED and woo.file_id != shopify.file_id


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UNFETCHABLE: list[tuple[str, type[AssetError], str]] = [
    ("http://169.254.169.254/latest/meta-data/", AssetAddressBlocked, "link_local"),
    ("http://10.0.0.7/a.png", AssetAddressBlocked, "private"),
    ("http://[::1]:{port}/file/front.png", AssetAddressBlocked, "loopback"),
    (
        "{origin}/redirect?to=http://127.0.0.2:{port}/file/front.png",
        AssetAddressBlocked,
        "loopback",
    ),
    ("https://nothing-here.invalid/a.png", AssetDnsFailed, "nothing-here.invalid"),
    ("http://127.0.0.1:{closed}/a.png", AssetUnreachable, "unreachable"),
    ("{origin}/status/404", AssetHttpStatus, "answered 404"),
    ("{origin}/stream?bytes=3000000", AssetTooLarge, f"limit of {MAX_BYTES} bytes"),
    ("{origin}/file/page.html", AssetWrongContentType, "text/html"),
]


async def test_an_asset_that_cannot_be_fetched_is_refused_with_the_reason(
    client: Client, origin: Origin
) -> None:
    origin.serve("front.png", PNG, "image/png")
    origin.serve("page.html", b"<html>sign in</html>", "text/html")

    for source, error, reason in UNFETCHABLE:
        url = source.format(origin=origin.url(""), port=origin.port, closed=closed_port())
        with pytest.raises(error) as refused:
            await client.store(asset("img-1", source_url=url))
        assert reason in refused.value.message, (url, refused.value.message)

    assert await client.file_count() == 0


async def test_a_slow_origin_is_a_timeout(client: Client, origin: Origin) -> None:
    quick = FetchLimits(MAX_BYTES, timeout_seconds=0.3, deadline_seconds=5, max_redirects=0)
    fetcher = AssetFetcher(AddressPolicy((ipaddress.IPv4Network("127.0.0.1/32"),)), quick)

    with pytest.raises(AssetTimeout):
        await client.store(
            asset("img-1", source_url=origin.url("/slow?seconds=2")), fetcher=fetcher
        )

    assert await client.file_count() == 0


async def test_a_live_client_gets_no_sandbox_exemption(client: Client, origin: Origin) -> None:
    url = origin.serve("front.png", PNG, "image/png")
    live = Tenant(client.tenant.client_id, livemode=True)

    with pytest.raises(AssetAddressBlocked) as refused:
        # the guard refuses before any AMS is reached, so the sandbox clients stand in
        await store_asset(
            client.services, live, asset("img-1", source_url=url), client.folders, ams=client.ams
        )

    assert refused.value.rule == "loopback"
    assert origin.requests == []


async def test_assets_that_are_not_what_they_claim_are_refused(client: Client) -> None:
    data = b"%PDF-1.7 hello"
    inline = {
        "kind": "document",
        "filename": "a.pdf",
        "content_base64": base64.b64encode(data).decode(),
    }

    with pytest.raises(AssetChecksumMismatch):
        await client.store(asset("doc-1", **inline, sha256="0" * 64))
    with pytest.raises(AssetInvalid) as not_base64:
        await client.store(asset("doc-1", kind="document", content_base64="###"))
    assert "content_base64" in not_base64.value.message
    with pytest.raises(AssetInvalid) as no_source:
        await client.store(asset("doc-1", kind="document"))
    assert "source_url" in no_source.value.message
    with pytest.raises(AssetFolderMissing):
        await store_asset(client.services, client.tenant, asset("doc-1", **inline), {})
    assert await client.file_count() == 0
