"""The Drive v3 HTTP surface under /sandbox/drive, as google-api-python-client calls it when its
discovery document's rootUrl is http://HOST:PORT/sandbox/drive/: authenticate the test key,
call one verb, render Drive's JSON, map domain errors to Drive's error shape."""

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, Router, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import File
from litestar.types import ControllerRouterHandler

from app.api.auth import sandbox_tenant
from app.db.engine import reading
from app.errors import AuthenticationError
from app.sandbox.drive import service, uploads
from app.sandbox.drive.blobs import BlobStore, StoredContent
from app.sandbox.drive.errors import (
    STATUS_OF_REASON,
    AuthError,
    DriveError,
    InvalidArgument,
    NotDownloadable,
)
from app.sandbox.drive.models import DriveFile, DriveUpload
from app.sandbox.drive.query import parse_query
from app.sandbox.drive.resources import (
    FileMetadata,
    file_list,
    file_resource,
    permission_resource,
    read_file_metadata,
    read_json,
    read_permission,
)
from app.services import Services
from app.tenancy.models import Tenant

FILES = "/drive/v3/files"
UPLOADS = "/upload/drive/v3/files"
GOOGLE_APPS_PREFIX = "application/vnd.google-apps."
PageSize = Annotated[int, QueryParameter(name="pageSize")]
PageToken = Annotated[str | None, QueryParameter(name="pageToken")]
ParentIds = Annotated[str, QueryParameter(name="addParents")]
RemovedParentIds = Annotated[str, QueryParameter(name="removeParents")]
TransferOwnership = Annotated[bool, QueryParameter(name="transferOwnership")]
UploadType = Annotated[str | None, QueryParameter(name="uploadType")]


def provide_services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def provide_blobs(services: NamedDependency[Services]) -> BlobStore:
    return BlobStore(services.settings.sandbox_blob_dir)


async def provide_tenant(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Tenant:
    """The client whose test key is the bearer token: no key, a bad one or a live one is a 401."""
    try:
        return await sandbox_tenant(services, request)
    except AuthenticationError as error:
        raise AuthError(error.message) from error


@post(FILES, status_code=200)
async def create_file(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    tenant: NamedDependency[Tenant],
) -> Any:
    metadata = read_file_metadata(read_json(await request.body()), creating=True)
    async with services.sessions() as session, session.begin():
        row = await service.create_file(session, tenant, metadata)
    return file_resource(row)


@get(f"{FILES}/{{file_id:str}}")
async def get_file(
    services: NamedDependency[Services],
    blobs: NamedDependency[BlobStore],
    tenant: NamedDependency[Tenant],
    file_id: FromPath[str],
    alt: FromQuery[str] = "json",
) -> Any:
    async with reading(services.sessions) as session:
        row = await service.get_file(session, tenant, file_id)
    if alt == "media":
        return media_of(blobs, row)
    return file_resource(row)


def media_of(blobs: BlobStore, row: DriveFile) -> File | Response[bytes]:
    if row.mime_type.startswith(GOOGLE_APPS_PREFIX):
        raise NotDownloadable()
    if row.blob_name is None:
        return Response(b"", media_type=row.mime_type)
    return File(
        blobs.path(row.client_id, row.blob_name),
        media_type=row.mime_type,
        content_disposition_type="inline",
    )


@get(FILES)
async def list_files(
    services: NamedDependency[Services],
    tenant: NamedDependency[Tenant],
    q: FromQuery[str | None] = None,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Any:
    conditions = parse_query(q)
    async with reading(services.sessions) as session:
        page = await service.list_files(session, tenant, conditions, page_size, page_token)
    return file_list(page.files, page.next_page_token)


@patch(f"{FILES}/{{file_id:str}}")
async def update_file(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    tenant: NamedDependency[Tenant],
    file_id: FromPath[str],
    add_parents: ParentIds = "",
    remove_parents: RemovedParentIds = "",
) -> Any:
    metadata = read_file_metadata(read_json(await request.body()), creating=False)
    added, removed = _id_list(add_parents), _id_list(remove_parents)
    async with services.sessions() as session, session.begin():
        row = await service.update_file(session, tenant, file_id, metadata, added, removed)
    return file_resource(row)


def _id_list(ids: str) -> list[str]:
    return [part.strip() for part in ids.split(",") if part.strip()]


@delete(f"{FILES}/{{file_id:str}}")
async def delete_file(
    services: NamedDependency[Services],
    blobs: NamedDependency[BlobStore],
    tenant: NamedDependency[Tenant],
    file_id: FromPath[str],
) -> None:
    async with services.sessions() as session, session.begin():
        blob_names = await service.delete_file(session, tenant, file_id)
    await blobs.remove(tenant.client_id, blob_names)


@post(f"{FILES}/{{file_id:str}}/permissions", status_code=200)
async def create_permission(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    tenant: NamedDependency[Tenant],
    file_id: FromPath[str],
    transfer_ownership: TransferOwnership = False,
) -> Any:
    permission = read_permission(read_json(await request.body()))
    async with services.sessions() as session, session.begin():
        row = await service.create_permission(
            session, tenant, file_id, permission, transfer_ownership
        )
    return permission_resource(row)


@get(f"{FILES}/{{file_id:str}}/permissions")
async def list_permissions(
    services: NamedDependency[Services], tenant: NamedDependency[Tenant], file_id: FromPath[str]
) -> Any:
    async with reading(services.sessions) as session:
        rows = await service.list_permissions(session, tenant, file_id)
    return {"kind": "drive#permissionList", "permissions": [permission_resource(r) for r in rows]}


@post(UPLOADS, status_code=200)
async def upload_file(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    blobs: NamedDependency[BlobStore],
    tenant: NamedDependency[Tenant],
    upload_type: UploadType = None,
) -> Any:
    body = await request.body()
    content_type = request.headers.get("content-type", "application/octet-stream")
    if upload_type == "resumable":
        return await _start_resumable(request, services, tenant, body)
    if upload_type == "media":
        metadata, media_type, data = FileMetadata(), content_type, body
    elif upload_type == "multipart":
        part = uploads.read_related(content_type, body)
        metadata = read_file_metadata(part.metadata, creating=True)
        media_type, data = part.content_type, part.data
    else:
        raise InvalidArgument("uploadType must be media, multipart or resumable.", "uploadType")
    content = await blobs.save(tenant.client_id, data)
    row = await _create_with_content(services, blobs, tenant, metadata, media_type, content)
    return file_resource(row)


@patch(f"{UPLOADS}/{{file_id:str}}")
async def upload_new_content(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    blobs: NamedDependency[BlobStore],
    tenant: NamedDependency[Tenant],
    file_id: FromPath[str],
    upload_type: UploadType = None,
) -> Any:
    """files.update with media: new bytes for an existing file, which keeps its id."""
    body = await request.body()
    content_type = request.headers.get("content-type", "application/octet-stream")
    if upload_type == "resumable":
        return await _start_resumable(request, services, tenant, body, replaces_file_id=file_id)
    if upload_type == "media":
        metadata, media_type, data = FileMetadata(), content_type, body
    elif upload_type == "multipart":
        part = uploads.read_related(content_type, body)
        metadata = read_file_metadata(part.metadata, creating=False)
        media_type, data = part.content_type, part.data
    else:
        raise InvalidArgument("uploadType must be media, multipart or resumable.", "uploadType")
    content = await blobs.save(tenant.client_id, data)
    try:
        async with services.sessions() as session, session.begin():
            row, replaced = await service.replace_content(
                session, tenant, file_id, metadata.typed_as(media_type), content
            )
    except BaseException:
        await blobs.remove(tenant.client_id, [content.blob_name])
        raise
    await blobs.remove(tenant.client_id, [replaced] if replaced else [])
    return file_resource(row)


async def _create_with_content(
    services: Services,
    blobs: BlobStore,
    tenant: Tenant,
    metadata: FileMetadata,
    media_type: str,
    content: StoredContent,
) -> DriveFile:
    """Create the file row for bytes already on disk; the bytes go again if the row cannot."""
    try:
        async with services.sessions() as session, session.begin():
            return await service.create_file(
                session, tenant, metadata.typed_as(media_type), content
            )
    except BaseException:
        await blobs.remove(tenant.client_id, [content.blob_name])
        raise


async def _start_resumable(
    request: Request[Any, Any, Any],
    services: Services,
    tenant: Tenant,
    body: bytes,
    replaces_file_id: str | None = None,
) -> Response[bytes]:
    media_type = request.headers.get("x-upload-content-type", "application/octet-stream")
    total = _optional_int(request.headers.get("x-upload-content-length"))
    async with services.sessions() as session, session.begin():
        upload = await uploads.start_resumable(
            session, tenant, read_json(body), media_type, total, replaces_file_id
        )
    # Every session URI is the collection's: its chunks are PUT there, whatever started it.
    path = request.url.path.removesuffix(f"/{replaces_file_id}" if replaces_file_id else "")
    query = urlencode({"uploadType": "resumable", "upload_id": upload.id})
    location = str(request.url.with_replacements(path=path, query=query))
    return Response(b"", status_code=200, headers={"Location": location})


def _optional_int(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidArgument("X-Upload-Content-Length must be a number of bytes.")
    return int(value)


@put(UPLOADS, status_code=200)
async def upload_chunk(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    blobs: NamedDependency[BlobStore],
    tenant: NamedDependency[Tenant],
    upload_id: FromQuery[str],
) -> Any:
    data = await request.body()
    chunk = uploads.read_content_range(request.headers.get("content-range"), len(data))
    stale: list[str] = []
    async with services.sessions() as session, session.begin():
        result = await uploads.receive_chunk(session, tenant, blobs, upload_id, chunk, data, stale)
    await blobs.remove(tenant.client_id, stale)
    if isinstance(result, DriveUpload):
        return _resume_incomplete(result.received)
    return file_resource(result)


def _resume_incomplete(received: int) -> Response[bytes]:
    """308 with the bytes kept so far (no Range header while there are none)."""
    headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
    return Response(b"", status_code=308, headers=headers)


def drive_error_response(_: Request[Any, Any, Any], error: DriveError) -> Response[Any]:
    status = STATUS_OF_REASON.get(error.reason, 400)
    return drive_error(status, error.reason, error.message, error.location)


_REASON_OF_STATUS = {401: "authError", 404: "notFound", 405: "badRequest", 413: "uploadTooLarge"}


def http_error_response(_: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    reason = _REASON_OF_STATUS.get(error.status_code, "badRequest")
    return drive_error(error.status_code, reason, error.detail)


def drive_error(
    status: int, reason: str, message: str, location: str | None = None
) -> Response[Any]:
    detail: dict[str, str] = {"domain": "global", "reason": reason, "message": message}
    if location is not None:
        detail["location"] = location
    headers = {"WWW-Authenticate": 'Bearer realm="sandbox"'} if status == 401 else None
    return Response(
        {"error": {"code": status, "message": message, "errors": [detail]}},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def drive_routes() -> list[ControllerRouterHandler]:
    handlers: list[ControllerRouterHandler] = [
        create_file,
        get_file,
        list_files,
        update_file,
        delete_file,
        create_permission,
        list_permissions,
        upload_file,
        upload_new_content,
        upload_chunk,
    ]
    return [
        Router(
            path="/sandbox/drive",
            route_handlers=handlers,
            dependencies={
                "services": Provide(provide_services, sync_to_thread=False),
                "blobs": Provide(provide_blobs, sync_to_thread=False),
                "tenant": Provide(provide_tenant),
            },
            exception_handlers={
                DriveError: drive_error_response,
                HTTPException: http_error_response,
            },
            include_in_schema=False,
        )
    ]
