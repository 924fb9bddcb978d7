"""Drive's wire format: request bodies read into typed inputs (refusing what Drive refuses) and
rows rendered as Drive v3 `File`, `FileList` and `Permission` resources."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import orjson

from app.sandbox.drive.errors import (
    CannotAddParent,
    DriveError,
    FieldNotWritable,
    InvalidArgument,
)
from app.sandbox.drive.models import DriveFile, DrivePermission

T = TypeVar("T")
FOLDER_MIME_TYPE = "application/vnd.google-apps.folder"
APP_PROPERTY_MAX_BYTES = 124
ROLES = {"owner", "organizer", "fileOrganizer", "writer", "commenter", "reader"}
PERMISSION_TYPES = {"user", "group", "domain", "anyone"}
_READ_ONLY_FILE_FIELDS = {
    "id",
    "kind",
    "size",
    "md5Checksum",
    "webContentLink",
    "webViewLink",
    "owners",
    "permissions",
}


@dataclass(frozen=True)
class FileMetadata:
    """The writable part of a File; None means "not sent". A None app property value deletes it."""

    name: str | None = None
    mime_type: str | None = None
    parents: tuple[str, ...] | None = None
    app_properties: dict[str, str | None] = field(default_factory=dict)
    trashed: bool | None = None

    def typed_as(self, media_type: str) -> "FileMetadata":
        """This metadata with an upload's media type, unless it names a mimeType itself."""
        return self if self.mime_type else replace(self, mime_type=media_type)


@dataclass(frozen=True)
class PermissionInput:
    role: str
    type: str
    email_address: str | None
    domain: str | None


def read_json(data: bytes) -> object:
    """A JSON request body; an empty body is an empty object, as Drive treats it."""
    if not data.strip():
        return {}
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise DriveError("parseError", "The request body is not valid JSON.") from error


def read_file_metadata(body: object, *, creating: bool) -> FileMetadata:
    fields = _object(body)
    for name in fields:
        if name in _READ_ONLY_FILE_FIELDS or (name == "parents" and not creating):
            raise FieldNotWritable(name)
        if name not in {"name", "mimeType", "parents", "appProperties", "trashed"}:
            raise InvalidArgument(f"The sandbox Drive does not support the field {name}.", name)
    return FileMetadata(
        name=_optional(fields, "name", str),
        mime_type=_optional(fields, "mimeType", str),
        parents=_parents(fields.get("parents")),
        app_properties=_app_properties(fields.get("appProperties")),
        trashed=_optional(fields, "trashed", bool),
    )


def read_permission(body: object) -> PermissionInput:
    fields = _object(body)
    unsupported = set(fields) - {"role", "type", "emailAddress", "domain"}
    if unsupported:
        raise InvalidArgument(f"The sandbox Drive does not support {sorted(unsupported)}.")
    role, kind = fields.get("role"), fields.get("type")
    if role not in ROLES:
        raise InvalidArgument(f"The permission role must be one of {sorted(ROLES)}.", "role")
    if kind not in PERMISSION_TYPES:
        raise InvalidArgument(f"The permission type must be one of {sorted(PERMISSION_TYPES)}.")
    email = _optional(fields, "emailAddress", str)
    domain = _optional(fields, "domain", str)
    if kind in {"user", "group"} and not email:
        raise InvalidArgument("An emailAddress is required for user and group permissions.")
    if kind == "domain" and not domain:
        raise InvalidArgument("A domain is required for domain permissions.", "domain")
    return PermissionInput(role=str(role), type=str(kind), email_address=email, domain=domain)


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    return body


def _optional(fields: dict[str, Any], name: str, kind: type[T]) -> T | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, kind):
        raise InvalidArgument(f"Invalid value for {name}: expected a {kind.__name__}.", name)
    return value


def _parents(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument("parents must be a list of file ids.", "parents")
    if len(value) > 1:
        raise CannotAddParent()
    return tuple(value)


def _app_properties(value: object) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument("appProperties must be a map of strings.", "appProperties")
    for key, item in value.items():
        if item is not None and not isinstance(item, str):
            raise InvalidArgument(f"appProperties.{key} must be a string.", "appProperties")
        if len(key.encode()) + len((item or "").encode()) > APP_PROPERTY_MAX_BYTES:
            raise InvalidArgument(
                f"The size of appProperties.{key} (key plus value) exceeds "
                f"{APP_PROPERTY_MAX_BYTES} bytes.",
                "appProperties",
            )
    return dict(value)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def file_resource(row: DriveFile) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "kind": "drive#file",
        "id": row.id,
        "name": row.name,
        "mimeType": row.mime_type,
        "trashed": row.trashed,
        "createdTime": rfc3339(row.created_at),
        "modifiedTime": rfc3339(row.modified_at),
    }
    if row.parent_id is not None:
        resource["parents"] = [row.parent_id]
    if row.app_properties:
        resource["appProperties"] = row.app_properties
    if row.size is not None:
        resource["size"] = str(row.size)
        resource["md5Checksum"] = row.md5
    return resource


def file_list(rows: list[DriveFile], next_page_token: str | None) -> dict[str, Any]:
    listing: dict[str, Any] = {
        "kind": "drive#fileList",
        "incompleteSearch": False,
        "files": [file_resource(row) for row in rows],
    }
    if next_page_token is not None:
        listing["nextPageToken"] = next_page_token
    return listing


def permission_resource(row: DrivePermission) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "kind": "drive#permission",
        "id": row.id,
        "type": row.type,
        "role": row.role,
    }
    if row.email_address is not None:
        resource["emailAddress"] = row.email_address
    if row.domain is not None:
        resource["domain"] = row.domain
    return resource
