"""The sandbox Drive's verbs on files and permissions. Every verb takes the tenant and reads only
that client's rows: another client's file id is indistinguishable from a missing one."""

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.sandbox.drive.blobs import StoredContent
from app.sandbox.drive.errors import (
    CannotAddParent,
    FileNotFound,
    InvalidArgument,
    OwnershipTransferNeedsConsent,
)
from app.sandbox.drive.models import DriveFile, DrivePermission
from app.sandbox.drive.query import Condition, to_filter
from app.sandbox.drive.resources import FOLDER_MIME_TYPE, FileMetadata, PermissionInput
from app.tenancy.models import Tenant

DEFAULT_MIME_TYPE = "application/octet-stream"
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class FilePage:
    files: list[DriveFile]
    next_page_token: str | None


def new_file_id() -> str:
    return "1" + secrets.token_urlsafe(24)


async def get_file(session: AsyncSession, tenant: Tenant, file_id: str) -> DriveFile:
    row = await session.scalar(
        select(DriveFile).where(DriveFile.client_id == tenant.client_id, DriveFile.id == file_id)
    )
    if row is None:
        raise FileNotFound(file_id)
    return row


async def create_file(
    session: AsyncSession,
    tenant: Tenant,
    metadata: FileMetadata,
    content: StoredContent | None = None,
) -> DriveFile:
    file_id = new_file_id()
    parent_id = metadata.parents[0] if metadata.parents else None
    if parent_id is not None:
        await _check_parent(session, tenant, parent_id, moving=file_id)
    now = datetime.now(UTC)
    row = DriveFile(
        id=file_id,
        client_id=tenant.client_id,
        name=metadata.name or "Untitled",
        mime_type=metadata.mime_type or DEFAULT_MIME_TYPE,
        parent_id=parent_id,
        app_properties=_merged({}, metadata.app_properties),
        size=content.size if content else None,
        md5=content.md5 if content else None,
        blob_name=content.blob_name if content else None,
        trashed=bool(metadata.trashed),
        created_at=now,
        modified_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def list_files(
    session: AsyncSession,
    tenant: Tenant,
    conditions: list[Condition],
    page_size: int = 100,
    page_token: str | None = None,
) -> FilePage:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"pageSize must be 1 to {MAX_PAGE_SIZE}.", "pageSize")
    statement = select(DriveFile).where(
        DriveFile.client_id == tenant.client_id, *(to_filter(c) for c in conditions)
    )
    if page_token is not None:
        statement = statement.where(DriveFile.id > _decode_token(page_token))
    rows = list(await session.scalars(statement.order_by(DriveFile.id).limit(page_size + 1)))
    if len(rows) <= page_size:
        return FilePage(rows, None)
    return FilePage(rows[:page_size], _encode_token(rows[page_size - 1].id))


async def update_file(
    session: AsyncSession,
    tenant: Tenant,
    file_id: str,
    metadata: FileMetadata,
    add_parents: list[str],
    remove_parents: list[str],
) -> DriveFile:
    row = await get_file(session, tenant, file_id)
    parents = {row.parent_id} - set(remove_parents) - {None} | set(add_parents)
    if len(parents) > 1:
        raise CannotAddParent()
    for parent_id in set(add_parents) - {row.parent_id}:
        await _check_parent(session, tenant, parent_id, moving=file_id)
    row.parent_id = next(iter(parents), None)
    row.name = metadata.name if metadata.name is not None else row.name
    row.mime_type = metadata.mime_type or row.mime_type
    row.trashed = metadata.trashed if metadata.trashed is not None else row.trashed
    row.app_properties = _merged(row.app_properties, metadata.app_properties)
    row.modified_at = datetime.now(UTC)
    await session.flush()
    return row


async def replace_content(
    session: AsyncSession,
    tenant: Tenant,
    file_id: str,
    metadata: FileMetadata,
    content: StoredContent,
) -> tuple[DriveFile, str | None]:
    """New bytes (and metadata changes) for an existing file: same id, same parents. Returns the
    file and the blob it no longer uses."""
    row = await update_file(session, tenant, file_id, metadata, [], [])
    if row.mime_type == FOLDER_MIME_TYPE:
        raise InvalidArgument("A folder has no content to replace.", "uploadType")
    replaced = row.blob_name
    row.blob_name, row.size, row.md5 = content.blob_name, content.size, content.md5
    await session.flush()
    return row, replaced


async def delete_file(session: AsyncSession, tenant: Tenant, file_id: str) -> list[str]:
    """Delete the file and, for a folder, everything under it. Returns the blobs to remove."""
    await get_file(session, tenant, file_id)
    doomed = await _with_descendants(session, tenant, file_id)
    blob_names = await session.scalars(
        select(DriveFile.blob_name).where(
            DriveFile.client_id == tenant.client_id,
            DriveFile.id.in_(doomed),
            DriveFile.blob_name.is_not(None),
        )
    )
    blobs = [name for name in blob_names if name is not None]
    await session.execute(
        delete(DrivePermission).where(
            DrivePermission.client_id == tenant.client_id, DrivePermission.file_id.in_(doomed)
        )
    )
    await session.execute(
        delete(DriveFile).where(DriveFile.client_id == tenant.client_id, DriveFile.id.in_(doomed))
    )
    return blobs


async def create_permission(
    session: AsyncSession,
    tenant: Tenant,
    file_id: str,
    permission: PermissionInput,
    transfer_ownership: bool = False,
) -> DrivePermission:
    await get_file(session, tenant, file_id)
    if permission.role == "owner" and not transfer_ownership:
        raise OwnershipTransferNeedsConsent()
    row = DrivePermission(
        id=str(secrets.randbelow(10**20)).zfill(20),
        file_id=file_id,
        client_id=tenant.client_id,
        role=permission.role,
        type=permission.type,
        email_address=permission.email_address,
        domain=permission.domain,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    return row


async def list_permissions(
    session: AsyncSession, tenant: Tenant, file_id: str
) -> list[DrivePermission]:
    await get_file(session, tenant, file_id)
    rows = await session.scalars(
        select(DrivePermission)
        .where(DrivePermission.client_id == tenant.client_id, DrivePermission.file_id == file_id)
        .order_by(DrivePermission.created_at, DrivePermission.id)
    )
    return list(rows)


async def _check_parent(session: AsyncSession, tenant: Tenant, parent_id: str, moving: str) -> None:
    """The parent exists for this client, is a folder, and is not the moved file or under it."""
    parent = await get_file(session, tenant, parent_id)
    if parent.mime_type != FOLDER_MIME_TYPE:
        raise InvalidArgument(f"The parent {parent_id} is not a folder.", "parents")
    ancestor: DriveFile | None = parent
    while ancestor is not None:
        if ancestor.id == moving:
            raise InvalidArgument("A folder cannot be moved into itself.", "addParents")
        ancestor = await _parent_of(session, tenant, ancestor)


async def _parent_of(session: AsyncSession, tenant: Tenant, row: DriveFile) -> DriveFile | None:
    if row.parent_id is None:
        return None
    return await get_file(session, tenant, row.parent_id)


async def _with_descendants(session: AsyncSession, tenant: Tenant, file_id: str) -> list[str]:
    found, frontier = [file_id], [file_id]
    while frontier:
        children = await session.scalars(
            select(DriveFile.id).where(
                DriveFile.client_id == tenant.client_id, DriveFile.parent_id.in_(frontier)
            )
        )
        frontier = list(children)
        found.extend(frontier)
    return found


def _merged(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        last_id = base64.b64decode(token, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise InvalidArgument("Invalid pageToken.", "pageToken") from error
    if not last_id:
        raise InvalidArgument("Invalid pageToken.", "pageToken")
    return last_id
