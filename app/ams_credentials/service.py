"""Setting, clearing and reading a client's AMS credentials.

Secrets are validated, encrypted with app.encryption and stored; what comes back out of this
module to the API is `AmsCredentialsStatus` (configured or not, the token's last four characters,
the service account's email), never a secret. Error messages never quote the values they refuse.
Decrypted credentials leave only through `live_credentials`, for app.integrations.routing.
"""

import asyncio
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.ams_credentials.models import AmsCredentials
from app.encryption import decrypt, encrypt
from app.errors import FieldError, GatewayError
from app.settings import Settings
from app.tenancy.service import get_client

TOKEN = re.compile(r"^pat[A-Za-z0-9]{14}\.[A-Za-z0-9]{32,128}$")
WORKSPACE = re.compile(r"^wsp[A-Za-z0-9]{14}$")
FOLDER = re.compile(r"^[A-Za-z0-9_-]{10,128}$")
MAX_SERVICE_ACCOUNT_BYTES = 16 * 1024
REQUIRED_ACCOUNT_KEYS = ("client_email", "private_key", "token_uri")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class AirtableInput:
    token: str
    workspace_id: str | None = None


@dataclass(frozen=True)
class GoogleInput:
    service_account_json: str
    root_folder_id: str | None = None


@dataclass(frozen=True)
class AmsCredentialsStatus:
    """What anyone may see of a client's credentials."""

    client_id: str
    airtable_configured: bool
    airtable_token_last4: str | None
    airtable_workspace_id: str | None
    google_configured: bool
    google_service_account_email: str | None
    google_root_folder_id: str | None
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class LiveCredentials:
    """Decrypted, for the adapters only (repr hides the secrets)."""

    airtable_token: str | None
    airtable_workspace_id: str | None
    google_service_account: dict[str, Any] | None
    google_root_folder_id: str | None

    def __repr__(self) -> str:
        return "LiveCredentials(***)"


def _now() -> datetime:
    return datetime.now(UTC)


def status_of(client_id: str, row: AmsCredentials | None) -> AmsCredentialsStatus:
    if row is None:
        return AmsCredentialsStatus(client_id, False, None, None, False, None, None, None, None)
    return AmsCredentialsStatus(
        client_id=client_id,
        airtable_configured=row.airtable_token_encrypted is not None,
        airtable_token_last4=row.airtable_token_hint,
        airtable_workspace_id=row.airtable_workspace_id,
        google_configured=row.google_service_account_encrypted is not None,
        google_service_account_email=row.google_service_account_email,
        google_root_folder_id=row.google_root_folder_id,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


async def get_status(session: AsyncSession, client_id: str) -> AmsCredentialsStatus:
    await get_client(session, client_id)  # an unknown client is not_found
    return status_of(client_id, await session.get(AmsCredentials, client_id))


async def set_credentials(
    session: AsyncSession,
    settings: Settings,
    client_id: str,
    airtable: AirtableInput | None,
    google: GoogleInput | None,
    actor: str | None,
) -> AmsCredentialsStatus:
    """Replace the secrets given (Airtable token, Google service account); a part left out, or a
    workspace / root folder id left out, keeps what is stored (so rotating a secret needs only
    the new secret)."""
    await get_client(session, client_id)
    account = _check(airtable, google)
    row = await session.get(AmsCredentials, client_id)
    if row is None:
        row = AmsCredentials(client_id=client_id, updated_at=_now())
        session.add(row)
    if airtable is not None:
        row.airtable_token_encrypted = encrypt(settings, airtable.token)
        row.airtable_token_hint = airtable.token[-4:]
        row.airtable_workspace_id = airtable.workspace_id or row.airtable_workspace_id
    if google is not None and account is not None:
        row.google_service_account_encrypted = encrypt(settings, google.service_account_json)
        row.google_service_account_email = str(account["client_email"])
        row.google_root_folder_id = google.root_folder_id or row.google_root_folder_id
    row.updated_at, row.updated_by = _now(), actor
    await session.flush()
    return status_of(client_id, row)


async def clear_credentials(
    session: AsyncSession, client_id: str, airtable: bool, google: bool, actor: str | None
) -> AmsCredentialsStatus:
    """Forget the parts named; the row goes once neither part is left."""
    await get_client(session, client_id)
    row = await session.get(AmsCredentials, client_id)
    if row is None:
        return status_of(client_id, None)
    if airtable:
        row.airtable_token_encrypted = row.airtable_token_hint = row.airtable_workspace_id = None
    if google:
        row.google_service_account_encrypted = None
        row.google_service_account_email = row.google_root_folder_id = None
    if row.airtable_token_encrypted is None and row.google_service_account_encrypted is None:
        await session.delete(row)
        await session.flush()
        return status_of(client_id, None)
    row.updated_at, row.updated_by = _now(), actor
    await session.flush()
    return status_of(client_id, row)


def _check(airtable: AirtableInput | None, google: GoogleInput | None) -> dict[str, Any] | None:
    """Field-level problems of the input, all at once; the parsed service account when given."""
    problems: list[FieldError] = []
    if airtable is None and google is None:
        problems.append(
            FieldError("nothing_to_set", "Give airtable, google or both.", ("airtable",))
        )
    if airtable is not None:
        problems.extend(_airtable_problems(airtable))
    account = None
    if google is not None:
        account, found = _service_account(google.service_account_json)
        problems.extend(found)
        if google.root_folder_id is not None and not FOLDER.fullmatch(google.root_folder_id):
            problems.append(
                FieldError(
                    "invalid_folder_id",
                    "A Drive folder or shared drive id: 10 to 128 letters, digits, '-' or '_'.",
                    ("google", "rootFolderId"),
                )
            )
    if problems:
        raise GatewayError(
            "invalid_ams_credentials", "The AMS credentials were not stored.", errors=problems
        )
    return account


def _airtable_problems(airtable: AirtableInput) -> list[FieldError]:
    problems = []
    if not TOKEN.fullmatch(airtable.token):
        problems.append(
            FieldError(
                "invalid_airtable_token",
                "Not an Airtable personal access token (they look like 'patXXXXXXXXXXXXXX.…'; "
                "create one at airtable.com/create/tokens).",
                ("airtable", "token"),
            )
        )
    if airtable.workspace_id is not None and not WORKSPACE.fullmatch(airtable.workspace_id):
        problems.append(
            FieldError(
                "invalid_workspace_id",
                "An Airtable workspace id is 'wsp' followed by 14 letters or digits.",
                ("airtable", "workspaceId"),
            )
        )
    return problems


def _service_account(text: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    path = ("google", "serviceAccountJson")

    def problem(message: str) -> tuple[None, list[FieldError]]:
        return None, [FieldError("invalid_service_account", message, path)]

    if len(text.encode()) > MAX_SERVICE_ACCOUNT_BYTES:
        return problem("A service-account key file is a few KB; this is too large.")
    try:
        account = json.loads(text)
    except ValueError:
        return problem("Not JSON: paste the service account's key file as downloaded.")
    if not isinstance(account, dict):
        return problem("A service-account key file is a JSON object.")
    missing = [key for key in REQUIRED_ACCOUNT_KEYS if not isinstance(account.get(key), str)]
    if missing:
        return problem(f"The key file lacks {', '.join(missing)}.")
    if not _safe_token_uri(account["token_uri"]):
        return problem(
            "token_uri must be an https URL (Google's is https://oauth2.googleapis.com/token)."
        )
    if not _loads_as_key(account):
        return problem("The private_key is not a usable RSA private key in PEM form.")
    return account, []


def _safe_token_uri(uri: str) -> bool:
    """https; plain http only to this machine (a test's token endpoint)."""
    parts = urlsplit(uri)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def _loads_as_key(account: dict[str, Any]) -> bool:
    from google.oauth2 import service_account

    try:
        service_account.Credentials.from_service_account_info(account)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, KeyError):
        return False
    return True


def decrypted(settings: Settings, row: AmsCredentials | None) -> LiveCredentials | None:
    if row is None:
        return None
    account = row.google_service_account_encrypted
    return LiveCredentials(
        airtable_token=(
            decrypt(settings, row.airtable_token_encrypted)
            if row.airtable_token_encrypted
            else None
        ),
        airtable_workspace_id=row.airtable_workspace_id,
        google_service_account=json.loads(decrypt(settings, account)) if account else None,
        google_root_folder_id=row.google_root_folder_id,
    )


def live_credentials(settings: Settings, client_id: str) -> LiveCredentials | None:
    """The client's decrypted credentials, read now, from synchronous code.

    `app.integrations.routing.ams_for` is synchronous and is called on event loop threads,
    which cannot wait on their own loop; the row is read by `_READER`, a thread with a loop and
    a connection pool of its own. It is one primary-key read per live AMS client set-up (a sync
    run, a provisioning), so the next one in every process sees a change: no cache to go stale."""
    row = _READER.read(settings.database_url, client_id)
    return decrypted(settings, row)


class _Reader:
    """A daemon thread running an event loop that only reads `ams_credentials` rows."""

    MAX_ENGINES = 4  # one per database a process uses (tests use many, one after another)
    TIMEOUT_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engines: OrderedDict[str, AsyncEngine] = OrderedDict()

    def read(self, database_url: str, client_id: str) -> AmsCredentials | None:
        future = asyncio.run_coroutine_threadsafe(
            self._read(database_url, client_id), self._started()
        )
        return future.result(self.TIMEOUT_SECONDS)

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="ams-credentials-reader", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    async def _read(self, database_url: str, client_id: str) -> AmsCredentials | None:
        engine = await self._engine(database_url)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            row: AmsCredentials | None = await session.scalar(
                select(AmsCredentials).where(AmsCredentials.client_id == client_id)
            )
            return row

    async def _engine(self, database_url: str) -> AsyncEngine:
        engine = self._engines.pop(database_url, None)
        if engine is None:
            options: dict[str, Any] = {} if database_url.startswith("sqlite") else {"pool_size": 2}
            engine = create_async_engine(database_url, pool_pre_ping=True, **options)
        self._engines[database_url] = engine
        while len(self._engines) > self.MAX_ENGINES:
            await self._engines.popitem(last=False)[1].dispose()
        return engine


_READER = _Reader()
