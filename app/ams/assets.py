"""The files behind the Assets table: before a sync writes an asset's row it stores the asset's
file in the client's Drive folder, so the row carries the Drive file id and link.

A file that cannot be stored for good (a blocked address, a 404, a checksum that does not match)
rejects its record with the reason, as Airtable's refusal of a value does; one that may succeed
later (a timeout, an origin 5xx) leaves its record unhandled and the sync due, so a later run
stores it. Storing is idempotent (Drive finds the file again by its properties), so a retried
asset is never uploaded twice.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.assets.errors import AssetError
from app.assets.service import StoredAsset, store_asset
from app.db.models import CanonicalRecord
from app.integrations.routing import AmsClients
from app.provisioning.service import Services
from app.tenancy.models import Tenant

Key = tuple[str, str]  # (source platform, external id)
DRIVE = "drive"  # where the stored file's id and link sit in the data the field map reads


@dataclass(frozen=True)
class AssetFile:
    stored: StoredAsset
    folder_id: str


@dataclass
class AssetFiles:
    """One page's outcome: stored files, refusals for good, and assets to retry later."""

    stored: dict[Key, AssetFile] = field(default_factory=dict)
    refused: dict[Key, AssetError] = field(default_factory=dict)
    deferred: dict[Key, AssetError] = field(default_factory=dict)  # why, for the retry count


def folders_of(config: Mapping[str, Any]) -> dict[str, str]:
    """The Drive folder id per asset kind, from a provisioned AMS config."""
    return dict(config.get("server", {}).get(DRIVE, {}).get("asset_folders", {}))


async def store_files(
    services: Services,
    tenant: Tenant,
    ams: AmsClients,
    folders: Mapping[str, str],
    records: Sequence[CanonicalRecord],
    *,
    concurrency: int,
    renew: Callable[[], Awaitable[None]],
) -> AssetFiles:
    """Store the records' files, `concurrency` at a time, renewing the sync's lease after each
    round (fetches can be slow)."""
    files = AssetFiles()

    async def store(record: CanonicalRecord) -> None:
        key = (record.source_platform, record.external_id)
        try:
            stored = await store_asset(services, tenant, record.data, folders, ams=ams)
        except AssetError as error:
            if error.retryable:
                files.deferred[key] = error
            else:
                files.refused[key] = error
            return
        folder_id = folders.get(str(record.data.get("kind")), "")
        files.stored[key] = AssetFile(stored, folder_id)

    for start in range(0, len(records), concurrency):
        try:
            async with asyncio.TaskGroup() as group:
                for record in records[start : start + concurrency]:
                    group.create_task(store(record))
        except ExceptionGroup as failed:  # Drive refused or is unreachable: the sync fails
            raise failed.exceptions[0] from None
        await renew()
    return files


def with_drive(data: Mapping[str, Any], file: AssetFile) -> dict[str, Any]:
    """The canonical data plus its Drive file, as the field map's `drive.*` paths read it."""
    return {**data, DRIVE: {"file_id": file.stored.file_id, "url": file.stored.web_link}}


def uploaded_event(
    record_key: Key, kind: str, file: AssetFile, job_id: str | None, at: datetime
) -> dict[str, Any]:
    """The `asset.uploaded` data for a file that was created or given new bytes."""
    platform, external_id = record_key
    return {
        "external_id": external_id,
        "source_platform": platform,
        "kind": kind,
        "file_id": file.stored.file_id,
        "folder_id": file.folder_id,
        "job_id": job_id,
        "uploaded_at": at,
    }
