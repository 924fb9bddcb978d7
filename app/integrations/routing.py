"""THE one place that decides where a client's AMS writes go.

- Test mode: the gateway's built-in sandbox (`settings.sandbox_url` + /sandbox/airtable and
  /sandbox/drive), authenticated with a gateway-issued sandbox token for that client (the gateway
  keeps only hashes of API keys, so it cannot present the client's own test key).
- Live mode: the real Airtable (pyairtable's default endpoint) and Google Drive, with the token and
  service account from settings. Missing configuration raises `ams_not_configured`; a live client is
  never sent to the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from app.integrations.errors import AmsNotConfigured
from app.integrations.sandbox_tokens import sandbox_token
from app.settings import Settings
from app.tenancy.models import Tenant

if TYPE_CHECKING:
    from app.integrations.airtable import AirtableClient, GuardedAirtableClient
    from app.integrations.drive import DriveClient

# The client libraries (pyairtable, google-api-python-client) cost ~35 MB of RSS; they are
# imported when a process first talks to an AMS, not by every API process at start-up.

LIVE_DRIVE_ROOT = "https://www.googleapis.com/"


@dataclass(frozen=True)
class AmsClients:
    """Where one tenant's AMS lives, with clients ready to call (from worker threads)."""

    sandbox: bool
    airtable: AirtableClient
    drive: DriveClient
    airtable_endpoint: str
    drive_root_url: str


def ams_for(tenant: Tenant, settings: Settings) -> AmsClients:
    if not tenant.livemode:
        return _sandbox(tenant, settings)
    return _live(settings)


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


def _live(settings: Settings) -> AmsClients:
    token = settings.airtable_api_token.get_secret_value() if settings.airtable_api_token else ""
    account_file = settings.drive_service_account_file
    if not token or account_file is None:
        missing = [
            name
            for name, absent in (
                ("GATEWAY_AIRTABLE_API_TOKEN", not token),
                ("GATEWAY_DRIVE_SERVICE_ACCOUNT_FILE", account_file is None),
            )
            if absent
        ]
        raise AmsNotConfigured(
            f"Live AMS writes need {' and '.join(missing)} set on the gateway; "
            "live data is never written to the sandbox."
        )
    if not account_file.is_file():
        raise AmsNotConfigured(
            f"GATEWAY_DRIVE_SERVICE_ACCOUNT_FILE points to {account_file}, which is not a file."
        )
    from app.integrations.drive import GoogleDriveClient, live_service

    airtable = _airtable(settings, token, None)
    return AmsClients(
        sandbox=False,
        airtable=airtable,
        drive=GoogleDriveClient(partial(live_service, account_file), LIVE_DRIVE_ROOT),
        airtable_endpoint=airtable.endpoint_url,
        drive_root_url=LIVE_DRIVE_ROOT,
    )


def _airtable(settings: Settings, token: str, endpoint_url: str | None) -> GuardedAirtableClient:
    """Every Airtable client goes through this process's circuit breakers."""
    from app.integrations.airtable import DEFAULT_TIMEOUT, GuardedAirtableClient, PyAirtableClient
    from app.integrations.circuit import breaker_for

    timeout = (DEFAULT_TIMEOUT[0], settings.ams_airtable_timeout_seconds)
    client = PyAirtableClient(token, endpoint_url=endpoint_url, timeout=timeout)
    return GuardedAirtableClient(client, breaker_for(settings), endpoint_url or client.endpoint_url)
