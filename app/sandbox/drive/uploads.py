"""Uploads as Drive takes them: multipart/related bodies and resumable sessions (chunks of
256 KiB multiples, `Content-Range: bytes a-b/total`, status queries `bytes */total`)."""

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.sandbox.drive import service
from app.sandbox.drive.blobs import BlobStore
from app.sandbox.drive.errors import DriveError, InvalidArgument
from app.sandbox.drive.models import DriveFile, DriveUpload
from app.sandbox.drive.resources import read_file_metadata, read_json
from app.tenancy.models import Tenant

CHUNK_GRANULARITY = 256 * 1024
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<first>\d+)-(?P<last>\d+)|\*)/(?P<total>\d+|\*)")


@dataclass(frozen=True)
class MediaPart:
    metadata: object
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ContentRange:
    """`first` is None for a status query (`bytes */total`); `total` None while unknown."""

    first: int | None
    last: int | None
    total: int | None


def read_related(content_type: str, body: bytes) -> MediaPart:
    """A multipart/related body: the JSON metadata part, then the media part."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/related") or match is None:
        raise InvalidArgument("A multipart upload is multipart/related with a boundary.")
    parts = _split_parts(body, match.group(1).encode())
    if len(parts) != 2:
        raise InvalidArgument("A multipart upload has exactly two parts: metadata, then media.")
    (_, metadata), (media_type, data) = parts
    return MediaPart(read_json(metadata), media_type or "application/octet-stream", data)


def _split_parts(body: bytes, boundary: bytes) -> list[tuple[str | None, bytes]]:
    """Each part's content type and bytes. Lines may end in CRLF (RFC 2046) or LF (as the
    Python client's email generator writes them); the boundary line says which."""
    chunks = body.split(b"--" + boundary)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise InvalidArgument("The multipart body is not terminated by its closing boundary.")
    newline = b"\r\n" if chunks[1].startswith(b"\r\n") else b"\n"
    return [_read_part(chunk, newline) for chunk in chunks[1:-1]]


def _read_part(chunk: bytes, newline: bytes) -> tuple[str | None, bytes]:
    chunk = chunk.removeprefix(newline).removesuffix(newline)
    if chunk.startswith(newline):
        return None, chunk.removeprefix(newline)
    head, separator, data = chunk.partition(newline * 2)
    if not separator:
        raise InvalidArgument("A multipart part needs a blank line between headers and body.")
    headers = dict(_header(line) for line in head.decode("latin-1").splitlines() if line)
    return headers.get("content-type"), data


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def read_content_range(header: str | None, length: int) -> ContentRange:
    if header is None:
        return ContentRange(0 if length else None, length - 1 if length else None, length)
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise InvalidArgument("Content-Range must read 'bytes a-b/total' or 'bytes */total'.")
    total = None if match["total"] == "*" else int(match["total"])
    if match["first"] is None:
        return ContentRange(None, None, total)
    first, last = int(match["first"]), int(match["last"])
    if last < first or last - first + 1 != length:
        raise InvalidArgument("Content-Range does not match the length of the chunk.")
    return ContentRange(first, last, total)


async def start_resumable(
    session: AsyncSession,
    tenant: Tenant,
    metadata: object,
    content_type: str,
    total_size: int | None,
    replaces_file_id: str | None = None,
) -> DriveUpload:
    read_file_metadata(metadata, creating=replaces_file_id is None)
    if replaces_file_id is not None:
        await service.get_file(session, tenant, replaces_file_id)
    upload = DriveUpload(
        id=secrets.token_urlsafe(24),
        client_id=tenant.client_id,
        metadata_json=metadata,
        content_type=content_type,
        total_size=total_size,
        received=0,
        blob_name=BlobStore.new_name(),
        replaces_file_id=replaces_file_id,
        created_at=datetime.now(UTC),
    )
    session.add(upload)
    await session.flush()
    return upload


async def receive_chunk(
    session: AsyncSession,
    tenant: Tenant,
    blobs: BlobStore,
    upload_id: str,
    chunk: ContentRange,
    data: bytes,
    stale_blobs: list[str],
) -> DriveUpload | DriveFile:
    """Store one chunk (or answer a status query): the session while bytes remain, the created
    (or updated) file once the last byte is in. Blobs a replaced content leaves behind are added
    to `stale_blobs`, for removal once the transaction is committed."""
    upload = await _locked_upload(session, tenant, upload_id)
    if upload.file_id is not None:
        return await service.get_file(session, tenant, upload.file_id)
    total = _agreed_total(upload, chunk.total)
    if chunk.first is not None and chunk.last is not None:
        _check_chunk(upload, chunk.first, chunk.last, total)
        await blobs.write_at(tenant.client_id, upload.blob_name, chunk.first, data)
        upload.received = chunk.first + len(data)
    if upload.received != total:
        await session.flush()
        return upload
    return await _finish(session, tenant, blobs, upload, stale_blobs)


async def _locked_upload(session: AsyncSession, tenant: Tenant, upload_id: str) -> DriveUpload:
    upload = await session.scalar(
        select(DriveUpload)
        .where(DriveUpload.client_id == tenant.client_id, DriveUpload.id == upload_id)
        .with_for_update()
    )
    if upload is None:
        raise DriveError("notFound", "No upload session with that id.", "upload_id")
    return upload


def _agreed_total(upload: DriveUpload, announced: int | None) -> int | None:
    if announced is not None and upload.total_size is not None and announced != upload.total_size:
        raise InvalidArgument("The total size differs from the one the upload started with.")
    upload.total_size = upload.total_size if announced is None else announced
    return upload.total_size


def _check_chunk(upload: DriveUpload, first: int, last: int, total: int | None) -> None:
    if first != upload.received:
        raise InvalidArgument(f"The next chunk must start at byte {upload.received}.")
    if total is not None and last >= total:
        raise InvalidArgument("The chunk runs past the total size of the upload.")
    is_last = total is not None and last == total - 1
    if not is_last and (last + 1 - first) % CHUNK_GRANULARITY:
        raise InvalidArgument("Every chunk but the last must be a multiple of 256 KiB.")


async def _finish(
    session: AsyncSession,
    tenant: Tenant,
    blobs: BlobStore,
    upload: DriveUpload,
    stale_blobs: list[str],
) -> DriveFile:
    replacing = upload.replaces_file_id is not None
    metadata = read_file_metadata(upload.metadata_json, creating=not replacing)
    if upload.received == 0:
        await blobs.write_at(tenant.client_id, upload.blob_name, 0, b"")
    content = await blobs.describe(tenant.client_id, upload.blob_name)
    metadata = metadata.typed_as(upload.content_type)
    if upload.replaces_file_id is not None:
        row, replaced = await service.replace_content(
            session, tenant, upload.replaces_file_id, metadata, content
        )
        stale_blobs.extend([replaced] if replaced else [])
    else:
        row = await service.create_file(session, tenant, metadata, content)
    upload.file_id = row.id
    await session.flush()
    return row
