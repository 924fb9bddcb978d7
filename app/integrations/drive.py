"""Google Drive through google-api-python-client, behind the `DriveClient` Protocol.

Synchronous, like the google client: run the calls in worker threads. The google service object is
not thread-safe, so each thread builds its own (the discovery document is bundled with the
package: no network). For the sandbox, the bundled document's rootUrl is rewritten to the gateway's
`/sandbox/drive/` (`client_options.api_endpoint` would leave uploads on https at the real host), so
every call and upload reaches the emulator. No automatic retries yet (`num_retries=0`): pacing and
back-off are a later item of the write layer.
"""

import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import googleapiclient  # type: ignore[import-untyped]
from google.auth.credentials import Credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build_from_document  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]
from googleapiclient.http import MediaIoBaseUpload  # type: ignore[import-untyped]

from app.integrations.errors import AmsRequestError

FOLDER = "application/vnd.google-apps.folder"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache/documents/drive.v3.json"
RESUMABLE_THRESHOLD = 5 * 1024 * 1024  # larger uploads go resumable, in chunks
RESUMABLE_CHUNK = 4 * 1024 * 1024  # a multiple of 256 KiB, as Drive requires
FILE_FIELDS = "id, name, mimeType, parents, appProperties, md5Checksum, size, webViewLink"


@dataclass(frozen=True)
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str] = field(default_factory=list)
    app_properties: dict[str, str] = field(default_factory=dict)
    md5: str | None = None
    size: int | None = None
    web_view_link: str | None = None


# A client's root folder may live in a shared drive; Drive answers 404 for items there unless
# each call says it supports them (harmless for My Drive).
ALL_DRIVES: dict[str, Any] = {"supportsAllDrives": True}


class DriveClient(Protocol):
    """The Drive verbs the gateway needs. `parent_id` None means the drive's root."""

    def ensure_folder(
        self, name: str, parent_id: str | None, app_properties: Mapping[str, str] | None = None
    ) -> str: ...

    def create_folder(
        self, name: str, parent_id: str | None, app_properties: Mapping[str, str] | None = None
    ) -> str: ...

    def upload(
        self,
        name: str,
        parent_id: str | None,
        mime_type: str,
        data: bytes,
        app_properties: Mapping[str, str] | None = None,
        *,
        resumable_above: int = RESUMABLE_THRESHOLD,
    ) -> DriveFile: ...

    def update_content(
        self,
        file_id: str,
        mime_type: str,
        data: bytes,
        app_properties: Mapping[str, str] | None = None,
        *,
        resumable_above: int = RESUMABLE_THRESHOLD,
    ) -> DriveFile: ...

    def share(self, file_id: str, email: str | None, role: str, type: str = "user") -> str: ...

    def find_by_app_property(self, key: str, value: str) -> list[DriveFile]: ...

    def find_by_app_properties(self, properties: Mapping[str, str]) -> list[DriveFile]: ...


class BearerKey(Credentials):
    """Sends a fixed bearer token (a sandbox token or test key); it never expires, so refresh does
    nothing."""

    def __init__(self, key: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.token = key

    def refresh(self, request: Any) -> None:
        pass


@cache
def _discovery_document() -> str:
    return DISCOVERY.read_text()


def sandbox_service(drive_root_url: str, credentials: Credentials) -> Any:
    """The Drive v3 client exactly as production builds it, pointed at an emulator whose root is
    `drive_root_url` (e.g. http://127.0.0.1:8000/sandbox/drive)."""
    root = drive_root_url.rstrip("/") + "/"
    document = json.loads(_discovery_document())
    document["rootUrl"] = root
    document["baseUrl"] = f"{root}drive/v3/"
    return build_from_document(document, credentials=credentials)


def service_account_credentials(account: Mapping[str, Any] | Path) -> Credentials:
    """A service account's credentials from its key (a client's, as stored) or key file (the
    gateway-wide one from settings)."""
    accounts = service_account.Credentials
    credentials: Credentials
    if isinstance(account, Path):
        credentials = accounts.from_service_account_file(str(account), scopes=[DRIVE_SCOPE])  # type: ignore[no-untyped-call]
    else:
        credentials = accounts.from_service_account_info(dict(account), scopes=[DRIVE_SCOPE])  # type: ignore[no-untyped-call]
    return credentials


def live_service(account: Mapping[str, Any] | Path, root_url: str) -> Any:
    """The Drive v3 client with a service account's credentials, at `root_url` (Google's own,
    https://www.googleapis.com/, unless GATEWAY_GOOGLE_API_ROOT_URL says otherwise)."""
    return sandbox_service(root_url, service_account_credentials(account))


class GoogleDriveClient:
    """`DriveClient` over google-api-python-client; `make_service` builds one service per thread."""

    def __init__(self, make_service: Callable[[], Any], root_url: str) -> None:
        self._make_service = make_service
        self._local = threading.local()
        self.root_url = root_url

    def _service(self) -> Any:
        service = getattr(self._local, "service", None)
        if service is None:
            service = self._make_service()
            self._local.service = service
        return service

    def _files(self) -> Any:
        return self._service().files()

    def ensure_folder(
        self, name: str, parent_id: str | None, app_properties: Mapping[str, str] | None = None
    ) -> str:
        """The folder `name` under the parent: found by query, created only when absent."""
        query = (
            f"name = {_quoted(name)} and {_quoted(parent_id or 'root')} in parents"
            f" and mimeType = '{FOLDER}' and trashed = false"
        )
        found = self._list(query)
        if found:
            return found[0].id
        return self.create_folder(name, parent_id, app_properties)

    def create_folder(
        self, name: str, parent_id: str | None, app_properties: Mapping[str, str] | None = None
    ) -> str:
        body = _metadata(name, parent_id, app_properties) | {"mimeType": FOLDER}
        with _drive_errors():
            created = self._files().create(body=body, fields="id", **ALL_DRIVES).execute()
        return str(created["id"])

    def upload(
        self,
        name: str,
        parent_id: str | None,
        mime_type: str,
        data: bytes,
        app_properties: Mapping[str, str] | None = None,
        *,
        resumable_above: int = RESUMABLE_THRESHOLD,
    ) -> DriveFile:
        """Multipart up to `resumable_above` bytes; above that a resumable session sent in 4 MiB
        chunks."""
        request = self._files().create(
            body=_metadata(name, parent_id, app_properties),
            media_body=_media(data, mime_type, resumable_above),
            fields=FILE_FIELDS,
            **ALL_DRIVES,
        )
        with _drive_errors():
            return _drive_file(request.execute())

    def update_content(
        self,
        file_id: str,
        mime_type: str,
        data: bytes,
        app_properties: Mapping[str, str] | None = None,
        *,
        resumable_above: int = RESUMABLE_THRESHOLD,
    ) -> DriveFile:
        """New bytes for an existing file (same id, same link), uploaded like `upload`; the
        given app properties are merged into the file's."""
        body: dict[str, Any] = {"mimeType": mime_type}
        if app_properties:
            body["appProperties"] = dict(app_properties)
        request = self._files().update(
            fileId=file_id,
            body=body,
            media_body=_media(data, mime_type, resumable_above),
            fields=FILE_FIELDS,
            **ALL_DRIVES,
        )
        with _drive_errors():
            return _drive_file(request.execute())

    def share(self, file_id: str, email: str | None, role: str, type: str = "user") -> str:
        body = {"role": role, "type": type} | ({"emailAddress": email} if email else {})
        with _drive_errors():
            created = (
                self._service()
                .permissions()
                .create(
                    fileId=file_id,
                    body=body,
                    sendNotificationEmail=False,
                    fields="id",
                    **ALL_DRIVES,
                )
                .execute()
            )
        return str(created["id"])

    def find_by_app_property(self, key: str, value: str) -> list[DriveFile]:
        return self.find_by_app_properties({key: value})

    def find_by_app_properties(self, properties: Mapping[str, str]) -> list[DriveFile]:
        """Files (not trashed) carrying every one of `properties`."""
        clauses = [
            f"appProperties has {{ key={_quoted(key)} and value={_quoted(value)} }}"
            for key, value in properties.items()
        ]
        return self._list(" and ".join([*clauses, "trashed = false"]))

    def _list(self, query: str) -> list[DriveFile]:
        found: list[DriveFile] = []
        page_token: str | None = None
        files = self._files()
        with _drive_errors():
            while True:
                page = files.list(
                    q=query,
                    pageSize=1000,
                    pageToken=page_token,
                    fields=f"nextPageToken, files({FILE_FIELDS})",
                    includeItemsFromAllDrives=True,
                    **ALL_DRIVES,
                ).execute()
                found.extend(_drive_file(item) for item in page.get("files", []))
                page_token = page.get("nextPageToken")
                if not page_token:
                    return found


def _media(data: bytes, mime_type: str, resumable_above: int) -> MediaIoBaseUpload:
    return MediaIoBaseUpload(
        io.BytesIO(data),
        mimetype=mime_type,
        resumable=len(data) > resumable_above,
        chunksize=RESUMABLE_CHUNK,
    )


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _metadata(
    name: str, parent_id: str | None, app_properties: Mapping[str, str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if parent_id:
        body["parents"] = [parent_id]
    if app_properties:
        body["appProperties"] = dict(app_properties)
    return body


def _drive_file(item: Mapping[str, Any]) -> DriveFile:
    size = item.get("size")
    return DriveFile(
        id=item["id"],
        name=item.get("name", ""),
        mime_type=item.get("mimeType", ""),
        parents=list(item.get("parents", [])),
        app_properties=dict(item.get("appProperties", {})),
        md5=item.get("md5Checksum"),
        size=int(size) if size is not None else None,
        web_view_link=item.get("webViewLink"),
    )


@contextmanager
def _drive_errors() -> Iterator[None]:
    """Drive's HTTP errors as `AmsRequestError`, keeping its status and reason."""
    try:
        yield
    except HttpError as error:
        reason, message = "", str(error)
        try:
            body = json.loads(error.content)["error"]
            reason = str(body.get("errors", [{}])[0].get("reason", ""))
            message = str(body.get("message", message))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            pass
        raise AmsRequestError("Drive", int(error.resp.status), reason, message) from error
