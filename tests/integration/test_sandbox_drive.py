"""The sandbox Drive, driven by the real google-api-python-client over real HTTP: a client's test
key builds its folder tree, uploads files and shares them, and sees nothing of any other client."""

import asyncio
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload
from sqlalchemy import select

from app.integrations.drive import BearerKey, sandbox_service
from app.sandbox.drive.errors import InvalidQuery
from app.sandbox.drive.models import DriveFile
from app.sandbox.drive.query import FieldIs, HasAppProperty, InParents, Trashed, parse_query
from app.settings import Settings
from tests.conftest import create_tenant, make_settings

FOLDER = "application/vnd.google-apps.folder"
CHUNK = 256 * 1024


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, sandbox_blob_dir=tmp_path / "blobs")


def drive(base_url: str, key: str | None) -> Resource:
    """The Drive v3 client exactly as production builds it, pointed at the sandbox."""
    credentials = BearerKey(key) if key else AnonymousCredentials()
    return sandbox_service(f"{base_url}/sandbox/drive/", credentials)


def folder(service: Resource, name: str, parent: str | None = None, **extra: Any) -> str:
    body = {"name": name, "mimeType": FOLDER, **extra}
    if parent:
        body["parents"] = [parent]
    return str(service.files().create(body=body, fields="id").execute()["id"])


def names(listing: dict[str, Any]) -> list[str]:
    return sorted(item["name"] for item in listing["files"])


def status_of(call: Any) -> tuple[int, str]:
    with pytest.raises(HttpError) as caught:
        call.execute()
    error = json.loads(caught.value.content)["error"]
    assert error["code"] == caught.value.status_code
    return caught.value.status_code, error["errors"][0]["reason"]


def _build_tree_and_query(base_url: str, key: str) -> None:
    service = drive(base_url, key)
    files = service.files()
    root = folder(service, "Acme", appProperties={"clientId": "acme"})
    assets = folder(service, "Assets", root)
    kinds = {name: folder(service, name, assets) for name in ("Images", "Videos", "Audio")}
    kinds["Documents"] = folder(service, "Documents", assets)
    exports = folder(service, "Exports", root)

    query = (
        f"name = 'Images' and '{assets}' in parents and trashed = false and mimeType = '{FOLDER}'"
    )
    found = files.list(q=query, fields="nextPageToken, files(id, name)").execute()
    assert [item["id"] for item in found["files"]] == [kinds["Images"]]
    tagged = files.list(q="appProperties has { key='clientId' and value='acme' }").execute()
    assert [item["id"] for item in tagged["files"]] == [root]

    first = files.list(q=f"'{assets}' in parents", pageSize=2).execute()
    assert len(first["files"]) == 2 and "nextPageToken" in first
    second = files.list(q=f"'{assets}' in parents", pageSize=2, pageToken=first["nextPageToken"])
    rest = second.execute()
    assert "nextPageToken" not in rest
    assert names({"files": first["files"] + rest["files"]}) == sorted(kinds)

    moved = files.update(
        fileId=kinds["Audio"], addParents=exports, removeParents=assets, fields="id, parents"
    ).execute()
    assert moved["parents"] == [exports]
    assert names(files.list(q=f"'{exports}' in parents").execute()) == ["Audio"]
    assert status_of(files.update(fileId=kinds["Videos"], addParents=exports)) == (
        403,
        "cannotAddParent",
    )

    assert status_of(files.list(q="name contains 'Ima'")) == (400, "invalidQuery")
    assert status_of(files.list(q="name = 'Images' or name = 'Videos'")) == (400, "invalidQuery")
    too_long = {"name": "x", "appProperties": {"k": "v" * 124}}
    assert status_of(files.create(body=too_long)) == (400, "invalid")

    files.delete(fileId=assets).execute()
    assert status_of(files.get(fileId=kinds["Images"])) == (404, "notFound")


async def test_a_client_builds_its_folder_tree_and_finds_folders(live_gateway, services):
    tenant = await create_tenant(services)
    await asyncio.to_thread(_build_tree_and_query, live_gateway.url, tenant.secret)


def _upload_and_download(base_url: str, key: str) -> None:
    service = drive(base_url, key)
    files = service.files()
    images = folder(service, "Images")
    picture = os.urandom(70_000)
    media = MediaIoBaseUpload(io.BytesIO(picture), mimetype="image/png")
    created = files.create(
        body={"name": "hero.png", "parents": [images]}, media_body=media, fields="*"
    ).execute()
    assert created["mimeType"] == "image/png" and created["parents"] == [images]
    assert created["md5Checksum"] == hashlib.md5(picture).hexdigest()
    assert created["size"] == str(len(picture))
    assert files.get_media(fileId=created["id"]).execute() == picture

    video = os.urandom(600_000)
    media = MediaIoBaseUpload(
        io.BytesIO(video), mimetype="video/mp4", chunksize=CHUNK, resumable=True
    )
    request = files.create(body={"name": "teaser.mp4", "parents": [images]}, media_body=media)
    progress, response = [], None
    while response is None:
        status, response = request.next_chunk()
        progress.extend([status.resumable_progress] if status else [])
    assert progress == [CHUNK, 2 * CHUNK]
    assert response["md5Checksum"] == hashlib.md5(video).hexdigest()
    assert response["size"] == str(len(video))
    assert files.get_media(fileId=response["id"]).execute() == video
    assert status_of(files.get_media(fileId=images)) == (403, "fileNotDownloadable")


async def test_uploads_keep_the_bytes_and_their_md5(live_gateway, services):
    tenant = await create_tenant(services)
    await asyncio.to_thread(_upload_and_download, live_gateway.url, tenant.secret)


async def test_a_resumable_session_reports_what_it_has_kept(live_gateway, services):
    tenant = await create_tenant(services)
    payload = os.urandom(CHUNK + 1000)
    total = len(payload)
    async with httpx.AsyncClient(base_url=live_gateway.url, headers=tenant.headers) as client:
        started = await client.post(
            "/sandbox/drive/upload/drive/v3/files?uploadType=resumable",
            json={"name": "clip.bin"},
            headers={"X-Upload-Content-Type": "application/octet-stream"},
        )
        session = started.headers["location"]
        assert started.status_code == 200

        async def put(data: bytes, content_range: str) -> httpx.Response:
            return await client.put(session, content=data, headers={"Content-Range": content_range})

        assert (await put(b"", f"bytes */{total}")).status_code == 308
        misaligned = await put(payload[:1000], f"bytes 0-999/{total}")
        assert misaligned.status_code == 400
        kept = await put(payload[:CHUNK], f"bytes 0-{CHUNK - 1}/{total}")
        assert (kept.status_code, kept.headers["range"]) == (308, f"bytes=0-{CHUNK - 1}")
        asked = await put(b"", f"bytes */{total}")
        assert (asked.status_code, asked.headers["range"]) == (308, f"bytes=0-{CHUNK - 1}")
        done = await put(payload[CHUNK:], f"bytes {CHUNK}-{total - 1}/{total}")
        assert done.status_code == 200
        assert done.json()["md5Checksum"] == hashlib.md5(payload).hexdigest()
        again = await put(b"", f"bytes */{total}")
        assert again.json()["id"] == done.json()["id"]


def _share(base_url: str, key: str) -> None:
    service = drive(base_url, key)
    exports = folder(service, "Exports")
    permissions = service.permissions()
    editor = {"role": "writer", "type": "user", "emailAddress": "ops@digicon.example"}
    created = permissions.create(fileId=exports, body=editor, sendNotificationEmail=False)
    assert created.execute()["role"] == "writer"
    permissions.create(fileId=exports, body={"role": "reader", "type": "anyone"}).execute()
    listed = permissions.list(fileId=exports).execute()["permissions"]
    assert [(p["role"], p["type"], p.get("emailAddress")) for p in listed] == [
        ("writer", "user", "ops@digicon.example"),
        ("reader", "anyone", None),
    ]
    owner = {"role": "owner", "type": "user", "emailAddress": "boss@digicon.example"}
    assert status_of(permissions.create(fileId=exports, body=owner)) == (403, "forbidden")
    assert (
        status_of(permissions.create(fileId=exports, body={"role": "king", "type": "user"}))[0]
        == 400
    )


async def test_folders_are_shared_with_permissions(live_gateway, services):
    tenant = await create_tenant(services)
    await asyncio.to_thread(_share, live_gateway.url, tenant.secret)


def _isolation(base_url: str, key_a: str, key_b: str) -> None:
    a_files = drive(base_url, key_a).files()
    mine = folder(drive(base_url, key_a), "Assets")
    b_files = drive(base_url, key_b).files()
    for file_id in (mine, "1NoSuchFileAnywhere"):
        assert status_of(b_files.get(fileId=file_id)) == (404, "notFound")
        assert status_of(b_files.update(fileId=file_id, body={"name": "x"})) == (404, "notFound")
        assert status_of(b_files.delete(fileId=file_id)) == (404, "notFound")
    assert b_files.list(q="name = 'Assets'").execute()["files"] == []
    b_parent = {"name": "Stolen", "mimeType": FOLDER, "parents": [mine]}
    assert status_of(b_files.create(body=b_parent)) == (404, "notFound")
    assert a_files.get(fileId=mine).execute()["name"] == "Assets"


async def test_a_client_sees_only_its_own_files(live_gateway, services):
    acme = await create_tenant(services, "Acme")
    globex = await create_tenant(services, "Globex")
    await asyncio.to_thread(_isolation, live_gateway.url, acme.secret, globex.secret)


def _refused(base_url: str, key: str) -> dict[str, Any]:
    with pytest.raises(HttpError) as caught:
        drive(base_url, key).files().list().execute()
    assert caught.value.status_code == 401
    return dict(json.loads(caught.value.content))


def assert_drive_auth_error(body: dict[str, Any]) -> None:
    assert body["error"]["code"] == 401
    assert body["error"]["errors"][0]["domain"] == "global"
    assert body["error"]["errors"][0]["reason"] == "authError"


async def test_only_a_test_key_opens_the_sandbox(live_gateway, services):
    live = await create_tenant(services, "Acme", mode="live")
    for key in (live.secret, "gw_test_not-a-real-key"):
        assert_drive_auth_error(await asyncio.to_thread(_refused, live_gateway.url, key))
    async with httpx.AsyncClient(base_url=live_gateway.url) as anonymous:
        response = await anonymous.get("/sandbox/drive/drive/v3/files")
    assert response.status_code == 401
    assert_drive_auth_error(response.json())


def test_the_query_subset_reads_drive_syntax():
    conditions = parse_query(
        "name = 'Kid\\'s Room' AND 'root' in parents and mimeType != 'image/png' "
        "and trashed = false and appProperties has { key='sku' and value='A-1' }"
    )
    assert conditions == [
        FieldIs("name", "Kid's Room", negated=False),
        InParents("root"),
        FieldIs("mimeType", "image/png", negated=True),
        Trashed(False),
        HasAppProperty("sku", "A-1"),
    ]
    for unsupported in ("fullText contains 'x'", "name = 'a' or name = 'b'", "not trashed", "name"):
        with pytest.raises(InvalidQuery):
            parse_query(unsupported)


def _replace_content(base_url: str, key: str) -> tuple[str, list[bytes]]:
    service = drive(base_url, key)
    files = service.files()
    first = os.urandom(50_000)
    created = files.create(
        body={"name": "hero.png", "appProperties": {"v": "1"}},
        media_body=MediaIoBaseUpload(io.BytesIO(first), mimetype="image/png"),
        fields="id, size",
    ).execute()
    contents = [first]

    second = os.urandom(60_000)
    updated = files.update(
        fileId=created["id"],
        body={"appProperties": {"v": "2"}},
        media_body=MediaIoBaseUpload(io.BytesIO(second), mimetype="image/png"),
        fields="*",
    ).execute()
    assert updated["id"] == created["id"] and updated["size"] == str(len(second))
    assert updated["md5Checksum"] == hashlib.md5(second).hexdigest()
    assert updated["appProperties"] == {"v": "2"} and updated["name"] == "hero.png"
    contents.append(second)

    third = os.urandom(CHUNK * 2 + 10)
    media = MediaIoBaseUpload(
        io.BytesIO(third), mimetype="image/webp", chunksize=CHUNK, resumable=True
    )
    request = files.update(fileId=created["id"], body={}, media_body=media)
    response = None
    while response is None:
        _, response = request.next_chunk()
    assert response["id"] == created["id"] and response["mimeType"] == "image/webp"
    contents.append(third)
    assert files.get_media(fileId=created["id"]).execute() == third
    assert status_of(
        files.update(
            fileId="1missing",
            body={},
            media_body=MediaIoBaseUpload(io.BytesIO(b"x"), mimetype="image/png"),
        )
    ) == (404, "notFound")
    return created["id"], contents


async def test_new_content_replaces_a_files_bytes_and_keeps_its_id(live_gateway, services):
    tenant = await create_tenant(services)

    file_id, _ = await asyncio.to_thread(_replace_content, live_gateway.url, tenant.secret)

    blob_dir = services.settings.sandbox_blob_dir / tenant.client_id
    assert len(list(blob_dir.iterdir())) == 1  # the replaced contents are gone from disk
    async with services.sessions() as session:
        (row,) = (await session.scalars(select(DriveFile).where(DriveFile.id == file_id))).all()
    assert row.size == CHUNK * 2 + 10
