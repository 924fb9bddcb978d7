"""THE one place that decides where a client's AMS writes go, and with which credentials.

- Test mode: the gateway's built-in sandbox (`settings.sandbox_url` + /sandbox/airtable and
  /sandbox/drive), authenticated with a gateway-issued sandbox token for that client (the gateway
  keeps only hashes of API keys, so it cannot present the client's own test key). Always, whatever
  credentials the client has.
- Live mode: the real Airtable and Google Drive (`GATEWAY_AIRTABLE_API_URL`,
  `GATEWAY_GOOGLE_API_ROOT_URL`), per service with the client's own credentials
  (`setAmsCredentials`, app.ams_credentials), else the gateway-wide ones from settings
  (`GATEWAY_AIRTABLE_API_TOKEN`, `GATEWAY_DRIVE_SERVICE_ACCOUNT_FILE`), else
  `ams_credentials_missing`. A live client is never sent to the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from app.ams_credentials.errors import AmsCredentialsMissing
from app.ams_credentials.service import LiveCredentials, live_credentials
from app.integrations.errors import AmsNotConfigured
from app.integrations.sandbox_tokens import sandbox_token
from app.settings import Settings
from app.tenancy.models import Tenant

if TYPE_CHECKING:
    from app.integrations.airtable import AirtableClient, GuardedAirtableClient
    from app.integrations.drive import DriveClient

# The client libraries (pyairtable, google-api-python-client) cost ~35 MB of RSS; they are
# imported when a process first talks to an AMS, not by every API process at start-up.

Account = Literal["sandbox", "client", "gateway"]


@dataclass(frozen=True)
class AmsClients:
    """Where one tenant's AMS lives, with clients ready to call (from worker threads)."""

    sandbox: bool
    airtable: AirtableClient
    drive: DriveClient
    airtable_endpoint: str
    drive_root_url: str
    airtable_account: Account = "sandbox"  # whose credentials: the client's own or the gateway's
    drive_account: Account = "sandbox"
    airtable_workspace_id: str | None = None  # the client's, where new bases go (live)
    drive_root_folder_id: str | None = None  # the client's folder or shared drive (live)


def ams_for(tenant: Tenant, settings: Settings) -> AmsClients:
    if not tenant.livemode:
        return _sandbox(tenant, settings)
    return _live(settings, live_credentials(settings, tenant.client_id))


def _sandbox(tenant: Tenant, settings: Settings) -> AmsClients:
    if not settings.sandbox_enabled or not settings.secret_key:
        raise AmsNotConfigured(
            "Test keys write to the built-in sandbox, which is disabled on this gateway "
            "(GATEWAY_SANDBOX_ENABLED=false)."
        )
    from app.integrations.drive import BearerKey, GoogleDriveClient, sandbox_service

    token = sandbox_token(settings.secret_key, tenant.client_id)
    airtable_endpoint = f"{settings.sandbox_url}/sandbox/airtable"
    drive_root = f"{settings.sandbox_url}/sandbox/drive/"
    return AmsClients(
        sandbox=True,
        airtable=_airtable(settings, token, airtable_endpoint),
        drive=GoogleDriveClient(partial(sandbox_service, drive_root, BearerKey(token)), drive_root),
        airtable_endpoint=airtable_endpoint,
        drive_root_url=drive_root,
    )


def _live(settings: Settings, own: LiveCredentials | None) -> AmsClients:
    token, airtable_account = _airtable_token(settings, own)
    google, drive_account = _google_account(settings, own)
    missing = [
        (service, name)
        for service, name, absent in (
            ("Airtable", "GATEWAY_AIRTABLE_API_TOKEN", token is None),
            ("Google", "GATEWAY_DRIVE_SERVICE_ACCOUNT_FILE", google is None),
        )
        if absent
    ]
    if missing or token is None or google is None:
        raise AmsCredentialsMissing([m[0] for m in missing], [m[1] for m in missing])
    from app.integrations.drive import GoogleDriveClient, live_service

    drive_root = settings.google_api_root_url.rstrip("/") + "/"
    return AmsClients(
        sandbox=False,
        airtable=_airtable(settings, token, settings.airtable_api_url),
        drive=GoogleDriveClient(partial(live_service, google, drive_root), drive_root),
        airtable_endpoint=settings.airtable_api_url,
        drive_root_url=drive_root,
        airtable_account=airtable_account,
        drive_account=drive_account,
        airtable_workspace_id=own.airtable_workspace_id if own and own.airtable_token else None,
        drive_root_folder_id=own.google_root_folder_id
        if own and own.google_service_account
        else None,
    )


def _airtable_token(settings: Settings, own: LiveCredentials | None) -> tuple[str | None, Account]:
    if own is not None and own.airtable_token:
        return own.airtable_token, "client"
    fallback = settings.airtable_api_token
    return (fallback.get_secret_value() or None) if fallback else None, "gateway"


def _google_account(
    settings: Settings, own: LiveCredentials | None
) -> tuple[Mapping[str, Any] | Path | None, Account]:
    if own is not None and own.google_service_account:
        return own.google_service_account, "client"
    account_file = settings.drive_service_account_file
    if account_file is not None and not account_file.is_file():
        raise AmsNotConfigured(
            f"GATEWAY_DRIVE_SERVICE_ACCOUNT_FILE points to {account_file}, which is not a file."
        )
    return account_file, "gateway"


def _airtable(settings: Settings, token: str, endpoint_url: str) -> GuardedAirtableClient:
    """Every Airtable client goes through this process's circuit breakers."""
    from app.integrations.airtable import DEFAULT_TIMEOUT, GuardedAirtableClient, PyAirtableClient
    from app.integrations.circuit import breaker_for

    timeout = (DEFAULT_TIMEOUT[0], settings.ams_airtable_timeout_seconds)
    client = PyAirtableClient(token, endpoint_url=endpoint_url, timeout=timeout)
    return GuardedAirtableClient(client, breaker_for(settings), endpoint_url)
