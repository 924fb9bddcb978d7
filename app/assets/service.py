"""Storing a client's asset in its AMS Drive: the bytes (fetched behind the address guard, or
inline) checked and uploaded to the folder for the asset's kind, at most once per content.

A file is found again by its appProperties (the client and a key derived from the asset's
identity), never by name: unchanged content is not uploaded again, and changed content replaces
the bytes of the same file, so its id and link stay what the Assets table already holds. The
Drive adapter is synchronous; its calls run in worker threads (the adapter keeps one google
client per thread).
"""

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any
from urllib.parse import unquote

import httpx
import structlog
from pydantic import ValidationError

from app.assets.errors import (
    AssetChecksumMismatch,
    AssetError,
    AssetFolderMissing,
    AssetInvalid,
)
from app.assets.fetch import AssetFetcher, FetchLimits
from app.assets.guard import AddressPolicy
from app.assets.media import decode_inline, media_type
from app.contracts.entities import Asset
from app.integrations.drive import DriveFile
from app.integrations.routing import AmsClients, ams_for
from app.provisioning.service import Services, find_provisioning
from app.settings import Settings
from app.tenancy.models import Tenant

CLIENT_PROPERTY = "gateway_client"
ASSET_PROPERTY = "gateway_asset"
SHA256_PROPERTY = "gateway_sha256"
APP_PROPERTY_MAX_BYTES = 124  # Drive's limit on one appProperty, key and value together
LIVE_FILE_LINK = "https://drive.google.com/file/d/{id}/view"

log = structlog.get_logger("gateway.assets")


class StoreOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # same file, new bytes
    UNCHANGED = "unchanged"  # nothing sent to Drive


@dataclass(frozen=True)
class StoredAsset:
    file_id: str
    web_link: str
    name: str
    size: int
    mime_type: str
    sha256: str
    outcome: StoreOutcome

    @property
    def uploaded(self) -> bool:
        return self.outcome is not StoreOutcome.UNCHANGED


@dataclass(frozen=True)
class AssetContent:
    data: bytes
    mime_type: str
    sha256: str
    name: str | None  # the file name the client gave or its URL ends in


def fetcher_for(tenant: Tenant, settings: Settings) -> AssetFetcher:
    """Live clients fetch from public addresses only; test clients also from the networks the
    operator allowed for the sandbox."""
    allowed = () if tenant.livemode else tuple(settings.asset_fetch_sandbox_allowed_networks)
    return AssetFetcher(AddressPolicy(allowed), FetchLimits.from_settings(settings))


async def asset_folders(services: Services, tenant: Tenant) -> dict[str, str]:
    """The tenant's Drive folder id per asset kind, as provisioning recorded it."""
    row = await find_provisioning(services, tenant)
    config = row.config if row is not None else None
    if not config:
        return {}
    return dict(config["server"]["drive"]["asset_folders"])


async def store_asset(
    services: Services,
    tenant: Tenant,
    asset: Mapping[str, Any],
    folders: Mapping[str, str],
    *,
    ams: AmsClients | None = None,
    fetcher: AssetFetcher | None = None,
) -> StoredAsset:
    """Store one asset (a standard-schema asset record) in the folder `folders` names for its
    kind (`asset_folders` reads them). Raises an `AssetError` saying why when it cannot; Drive's
    own refusals stay `AmsRequestError`."""
    try:
        record = _parsed(asset)
        stored = await _store(services, tenant, record, folders, ams, fetcher)
    except AssetError as error:
        # The code only: the message may carry the URL, and URLs may carry signed tokens.
        log.warning("asset_refused", client_id=tenant.client_id, code=error.code)
        raise
    log.info(
        "asset_stored",
        client_id=tenant.client_id,
        file_id=stored.file_id,
        outcome=stored.outcome.value,
        size=stored.size,
    )
    return stored


async def _store(
    services: Services,
    tenant: Tenant,
    record: Asset,
    folders: Mapping[str, str],
    ams: AmsClients | None,
    fetcher: AssetFetcher | None,
) -> StoredAsset:
    folder_id = folders.get(record.kind.value)
    if not folder_id:
        raise AssetFolderMissing(record.kind.value)
    ams = ams or ams_for(tenant, services.settings)
    identity = {CLIENT_PROPERTY: tenant.client_id, ASSET_PROPERTY: asset_key(record)}
    found = await asyncio.to_thread(ams.drive.find_by_app_properties, identity)
    current = found[0] if found else None
    if current is not None and record.sha256 and _sha256_of(current) == record.sha256:
        return _stored(ams, current, StoreOutcome.UNCHANGED)  # declared unchanged: not fetched

    content = await asset_content(record, fetcher or fetcher_for(tenant, services.settings))
    if current is not None and _sha256_of(current) == content.sha256:
        return _stored(ams, current, StoreOutcome.UNCHANGED)
    properties = identity | _content_properties(record, content)
    threshold = services.settings.asset_resumable_threshold_bytes
    if current is None:
        upload = partial(
            ams.drive.upload,
            _file_name(record, content),
            folder_id,
            content.mime_type,
            content.data,
            properties,
            resumable_above=threshold,
        )
        return _stored(ams, await asyncio.to_thread(upload), StoreOutcome.CREATED)
    update = partial(
        ams.drive.update_content,
        current.id,
        content.mime_type,
        content.data,
        properties,
        resumable_above=threshold,
    )
    return _stored(ams, await asyncio.to_thread(update), StoreOutcome.UPDATED)


async def asset_content(record: Asset, fetcher: AssetFetcher) -> AssetContent:
    """The asset's bytes and the type they are stored under, checked against its declaration."""
    if record.source_url is not None:
        fetched = await fetcher.fetch(record.source_url)
        data, received = fetched.data, fetched.content_type
        name = record.filename or _url_file_name(fetched.url)
    else:  # the model requires content_base64 when there is no source_url
        data = decode_inline(record.content_base64 or "", fetcher.limits.max_bytes)
        received, name = None, record.filename
    digest = hashlib.sha256(data).hexdigest()
    if record.sha256 is not None and record.sha256 != digest:
        raise AssetChecksumMismatch(record.sha256, digest)
    chosen = media_type(record.kind.value, record.mime_type, received, name)
    return AssetContent(data, chosen, digest, name)


def asset_key(record: Asset) -> str:
    """Stable per asset identity (platform and external id), short enough for an appProperty
    whatever the external id's length."""
    identity = f"{record.source_platform}\n{record.external_id}"
    return hashlib.sha256(identity.encode()).hexdigest()


def _parsed(asset: Mapping[str, Any]) -> Asset:
    try:
        return Asset.model_validate(asset)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'asset'}: {item['msg']}"
            for item in error.errors()
        )
        raise AssetInvalid(f"The asset is not a valid standard asset: {problems}.") from error


def _sha256_of(file: DriveFile) -> str | None:
    return file.app_properties.get(SHA256_PROPERTY)


def _content_properties(record: Asset, content: AssetContent) -> dict[str, str]:
    properties = {
        SHA256_PROPERTY: content.sha256,
        "gateway_source_platform": str(record.source_platform),
        "gateway_external_id": record.external_id,
    }
    if record.source_url is not None:
        url_hash = hashlib.sha256(record.source_url.encode()).hexdigest()
        properties["gateway_source_url_sha256"] = url_hash
    # An external id too long for Drive is still found through the asset key.
    return {
        key: value
        for key, value in properties.items()
        if len(key.encode()) + len(value.encode()) <= APP_PROPERTY_MAX_BYTES
    }


def _url_file_name(url: str) -> str | None:
    name = unquote(httpx.URL(url).path.rsplit("/", 1)[-1])
    return name or None


def _file_name(record: Asset, content: AssetContent) -> str:
    return content.name or record.title or record.external_id


def _stored(ams: AmsClients, file: DriveFile, outcome: StoreOutcome) -> StoredAsset:
    link = file.web_view_link or (
        f"{ams.drive_root_url}drive/v3/files/{file.id}?alt=media"
        if ams.sandbox
        else LIVE_FILE_LINK.format(id=file.id)
    )
    return StoredAsset(
        file_id=file.id,
        web_link=link,
        name=file.name,
        size=file.size or 0,
        mime_type=file.mime_type,
        sha256=_sha256_of(file) or "",
        outcome=outcome,
    )
