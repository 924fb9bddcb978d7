"""Per-client AMS credentials: operators set a client's live Airtable token and Google service
account; they are stored encrypted and never come back out (not in answers, logs or the audit
log); live writes use them — proven over HTTP through the real pyairtable and google clients —
fall back to the gateway-wide ones, or fail visibly with ams_credentials_missing; test keys
always write to the sandbox; key rotation re-encrypts them."""

import asyncio
import io
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from pydantic import SecretStr
from sqlalchemy import select

from app.ams_credentials.errors import AmsCredentialsMissing
from app.ams_credentials.models import AmsCredentials
from app.ams_credentials.service import live_credentials
from app.audit.models import AuditEvent
from app.encryption import decrypt
from app.integrations.errors import AmsNotConfigured
from app.integrations.routing import ams_for
from app.integrations.sandbox_tokens import sandbox_token
from app.logs import configure_logging
from app.provisioning.service import ROOT_ROLE, provision
from app.sandbox.airtable.models import SandboxBase
from app.secrets_rotation import reencrypt_all
from app.settings import Settings
from app.tenancy.models import Tenant as Scope
from tests.conftest import create_tenant
from tests.helpers import drain, eventually, ingest_mutation, shopify_product
from tests.integration.test_key_lifecycle import operator_key

SET = """mutation($input: SetAmsCredentialsInput!) {
  setAmsCredentials(input: $input) {
    errors { code message path }
    amsCredentials {
      clientId airtableConfigured airtableTokenLast4 airtableWorkspaceId googleConfigured
      googleServiceAccountEmail googleRootFolderId updatedAt updatedBy
    }
  }
}"""
CLEAR = """mutation($input: ClearAmsCredentialsInput!) {
  clearAmsCredentials(input: $input) {
    errors { code path }
    amsCredentials {
      airtableConfigured airtableTokenLast4 googleConfigured googleServiceAccountEmail
    }
  }
}"""
STATUS = """query($client: ID!) {
  amsCredentials(client: $client) { airtableConfigured airtableTokenLast4 googleConfigured }
}"""
VIEWER = """{ viewer { amsCredentials {
  clientId airtableConfigured airtableTokenLast4 googleConfigured googleServiceAccountEmail
} } }"""
ACCOUNT_EMAIL = "ams-writer@acme-content.iam.gserviceaccount.com"
WORKSPACE = "wspAcmeContent001"
ROOT_FOLDER = "0AAcmeSharedDrive01"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
BROKEN_KEY = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return fast_sandbox_settings


def airtable_token() -> str:
    return "pat" + secrets.token_hex(7) + "." + secrets.token_hex(32)


@dataclass
class ServiceAccount:
    json: str
    private_key: str
    public_key: str


def service_account(token_uri: str = "https://oauth2.googleapis.com/token") -> ServiceAccount:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    document = {
        "type": "service_account",
        "project_id": "acme-content",
        "private_key_id": secrets.token_hex(20),
        "private_key": private,
        "client_email": ACCOUNT_EMAIL,
        "client_id": "104729384756102938475",
        "token_uri": token_uri,
    }
    return ServiceAccount(json.dumps(document), private, public)


def credentials_input(client_id: str, token: str, account: ServiceAccount) -> dict[str, Any]:
    return {
        "client": client_id,
        "airtable": {"token": token, "workspaceId": WORKSPACE},
        "google": {"serviceAccountJson": account.json, "rootFolderId": ROOT_FOLDER},
    }


def live(client_id: str) -> Scope:
    return Scope(client_id=client_id, livemode=True)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line (structlog and stdlib) at DEBUG, rendered exactly as in production."""
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    configure_logging("DEBUG")
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.handlers, root.level = handlers, level


async def test_operators_set_credentials_that_are_stored_encrypted_and_never_returned(
    gql, services, tenant, logs
):
    operator = await operator_key(services)
    token, account = airtable_token(), service_account()
    response = await gql.raw(
        SET, {"input": credentials_input(tenant.client_id, token, account)}, key=operator
    )
    answer = response.json()["data"]["setAmsCredentials"]

    assert answer["errors"] == []
    status = answer["amsCredentials"]
    assert status["clientId"] == tenant.client_id
    assert status["airtableConfigured"] and status["googleConfigured"]
    assert status["airtableTokenLast4"] == token[-4:]
    assert status["airtableWorkspaceId"] == WORKSPACE
    assert status["googleServiceAccountEmail"] == ACCOUNT_EMAIL
    assert status["googleRootFolderId"] == ROOT_FOLDER
    assert status["updatedAt"] and status["updatedBy"].startswith("key_")
    seen_by_client = (await gql(VIEWER, key=tenant.secret))["viewer"]["amsCredentials"]
    assert seen_by_client == {
        "clientId": tenant.client_id,
        "airtableConfigured": True,
        "airtableTokenLast4": token[-4:],
        "googleConfigured": True,
        "googleServiceAccountEmail": ACCOUNT_EMAIL,
    }
    for text in (response.text, json.dumps(seen_by_client)):
        assert token not in text and "PRIVATE KEY" not in text

    async with services.sessions() as session:
        row = await session.get(AmsCredentials, tenant.client_id)
    assert row is not None
    stored = json.dumps({k: str(v) for k, v in vars(row).items()})
    assert token not in stored and account.private_key.splitlines()[1] not in stored
    assert decrypt(services.settings, row.airtable_token_encrypted or "") == token
    opened = live_credentials(services.settings, tenant.client_id)
    assert opened is not None and opened.airtable_token == token
    assert opened.google_service_account == json.loads(account.json)
    assert token not in repr(opened)

    await services.audit.flush()
    async with services.sessions() as session:
        audited = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.operation == "graphql.setAmsCredentials")
            )
        )
    assert len(audited) == 1 and audited[0].result == "ok"
    assert tenant.client_id in audited[0].target_ids
    audit_text = json.dumps({k: str(v) for k, v in vars(audited[0]).items()})
    assert token not in audit_text and "PRIVATE KEY" not in audit_text
    assert "private_key" not in audit_text and "104729384756102938475" not in audit_text

    logged = logs.getvalue()
    assert '"event": "http.request"' in logged  # the capture saw the requests
    assert token not in logged and "PRIVATE KEY" not in logged


async def test_bad_credentials_get_field_level_errors_and_nothing_is_stored(
    gql, services, tenant, logs
):
    operator = await operator_key(services)
    token = "pat" + "x" * 10  # truncated
    account = json.loads(service_account().json)
    del account["token_uri"]
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        (
            {"airtable": {"token": token, "workspaceId": "workspace-1"}},
            [
                ("invalid_airtable_token", "airtable.token"),
                ("invalid_workspace_id", "airtable.workspaceId"),
            ],
        ),
        (
            {"google": {"serviceAccountJson": "{not json", "rootFolderId": "../.."}},
            [
                ("invalid_service_account", "google.serviceAccountJson"),
                ("invalid_folder_id", "google.rootFolderId"),
            ],
        ),
        (
            {"google": {"serviceAccountJson": json.dumps(account)}},
            [("invalid_service_account", "google.serviceAccountJson")],
        ),
        (
            {
                "google": {
                    "serviceAccountJson": json.dumps(
                        account
                        | {
                            "token_uri": "http://oauth.example/token",
                            "private_key": BROKEN_KEY,
                        }
                    )
                }
            },
            [("invalid_service_account", "google.serviceAccountJson")],
        ),
        ({}, [("nothing_to_set", "airtable")]),
    ]
    for given, expected in cases:
        answer = (await gql(SET, {"input": {"client": tenant.client_id, **given}}, key=operator))[
            "setAmsCredentials"
        ]
        assert answer["amsCredentials"] is None
        assert [(e["code"], e["path"]) for e in answer["errors"]] == expected, given
        assert all(token not in e["message"] for e in answer["errors"])

    unknown = (
        await gql(
            SET,
            {"input": credentials_input("cli_nobody", airtable_token(), service_account())},
            key=operator,
        )
    )["setAmsCredentials"]
    assert [e["code"] for e in unknown["errors"]] == ["not_found"]
    async with services.sessions() as session:
        assert list(await session.scalars(select(AmsCredentials))) == []
    logged = logs.getvalue()
    assert '"event": "http.request"' in logged and token not in logged


async def test_rotating_a_secret_needs_only_the_new_secret(gql, services, tenant):
    operator = await operator_key(services)
    await gql(
        SET,
        {"input": credentials_input(tenant.client_id, airtable_token(), service_account())},
        key=operator,
    )
    rotated = airtable_token()

    answer = await gql(
        SET, {"input": {"client": tenant.client_id, "airtable": {"token": rotated}}}, key=operator
    )

    status = answer["setAmsCredentials"]["amsCredentials"]
    assert status["airtableTokenLast4"] == rotated[-4:]
    assert status["airtableWorkspaceId"] == WORKSPACE  # kept
    assert status["googleServiceAccountEmail"] == ACCOUNT_EMAIL  # the other part untouched
    opened = live_credentials(services.settings, tenant.client_id)
    assert opened is not None and opened.airtable_token == rotated


async def test_clearing_forgets_one_service_then_both(gql, services, tenant):
    operator = await operator_key(services)
    token = airtable_token()
    await gql(
        SET, {"input": credentials_input(tenant.client_id, token, service_account())}, key=operator
    )

    google_only = (
        await gql(CLEAR, {"input": {"client": tenant.client_id, "part": "AIRTABLE"}}, key=operator)
    )["clearAmsCredentials"]["amsCredentials"]
    assert google_only == {
        "airtableConfigured": False,
        "airtableTokenLast4": None,
        "googleConfigured": True,
        "googleServiceAccountEmail": ACCOUNT_EMAIL,
    }
    await gql(CLEAR, {"input": {"client": tenant.client_id}}, key=operator)
    status = (await gql(STATUS, {"client": tenant.client_id}, key=operator))["amsCredentials"]
    assert status == {
        "airtableConfigured": False,
        "airtableTokenLast4": None,
        "googleConfigured": False,
    }
    async with services.sessions() as session:
        assert await session.get(AmsCredentials, tenant.client_id) is None


async def test_a_test_key_writes_to_the_sandbox_even_when_its_client_has_live_credentials(
    gql, services, tenant
):
    operator = await operator_key(services)
    await gql(
        SET,
        {"input": credentials_input(tenant.client_id, airtable_token(), service_account())},
        key=operator,
    )

    ams = ams_for(Scope(tenant.client_id, livemode=False), services.settings)

    assert ams.sandbox and ams.airtable_account == "sandbox" and ams.drive_account == "sandbox"
    assert ams.airtable_endpoint == f"{services.settings.sandbox_url}/sandbox/airtable"


async def test_a_live_client_without_credentials_falls_back_to_the_gateways_or_fails(
    gql, services, tenant, tmp_path
):
    with pytest.raises(AmsCredentialsMissing) as missing:
        ams_for(live(tenant.client_id), services.settings)
    assert missing.value.code == "ams_credentials_missing"
    assert isinstance(missing.value, AmsNotConfigured)
    assert "setAmsCredentials" in missing.value.message

    gateway_file = tmp_path / "gateway-account.json"
    gateway_file.write_text(service_account().json)
    gateway_wide = services.settings.model_copy(
        update={
            "airtable_api_token": SecretStr(airtable_token()),
            "drive_service_account_file": gateway_file,
        }
    )
    ams = ams_for(live(tenant.client_id), gateway_wide)
    assert not ams.sandbox
    assert (ams.airtable_account, ams.drive_account) == ("gateway", "gateway")
    assert ams.airtable_endpoint == "https://api.airtable.com"
    assert ams.drive_root_url == "https://www.googleapis.com/"

    operator = await operator_key(services)
    own = {"client": tenant.client_id, "airtable": {"token": airtable_token()}}
    await gql(SET, {"input": own}, key=operator)
    mixed = ams_for(live(tenant.client_id), gateway_wide)
    assert (mixed.airtable_account, mixed.drive_account) == ("client", "gateway")
    with pytest.raises(AmsCredentialsMissing) as google_missing:
        ams_for(live(tenant.client_id), services.settings)
    assert google_missing.value.services == ["Google"]


async def test_a_live_sync_without_credentials_fails_visibly_and_writes_nowhere(gql, services):
    client = await create_tenant(services, "Acme Live", "live")
    pushed = await gql(
        ingest_mutation("product"), {"input": {"records": [shopify_product(1)]}}, key=client.secret
    )
    assert pushed["ingestProducts"]["errors"] == []
    await drain(services)

    async def failed() -> list[dict[str, Any]] | None:
        sync = await gql(
            "{ viewer { amsSync { entities { entity error lastSyncedAt written } } } }",
            key=client.secret,
        )
        entities: list[dict[str, Any]] = sync["viewer"]["amsSync"]["entities"]
        return entities if entities and entities[0]["error"] else None

    entities = await eventually(failed)  # the sync runs after the job, on its own
    assert [e["entity"] for e in entities] == ["PRODUCT"]
    assert "ams_credentials_missing" in entities[0]["error"]
    assert entities[0]["lastSyncedAt"] is None and entities[0]["written"] == 0
    onboarding = await gql("{ viewer { onboarding { status reason } } }", key=client.secret)
    assert onboarding["viewer"]["onboarding"]["status"] is None
    assert "setAmsCredentials" in onboarding["viewer"]["onboarding"]["reason"]
    sandbox = ams_for(Scope(client.client_id, livemode=False), services.settings)
    assert sandbox.sandbox  # and the client's sandbox got nothing of its live data:
    async with services.sessions() as session:
        assert list(await session.scalars(select(SandboxBase))) == []


@dataclass
class Seen:
    authorizations: list[tuple[str, str]] = field(default_factory=list)  # (path, header)
    assertions: list[dict[str, Any]] = field(default_factory=list)  # verified JWT claims
    issued: list[str] = field(default_factory=list)  # access tokens handed out


def recording_proxy(
    upstream: str, sandbox_key: str, account: ServiceAccount, seen: Seen
) -> type[BaseHTTPRequestHandler]:
    """Stands where Airtable and Google are: records the credentials each request carries and
    verifies the service account's signed token request, then forwards the request to the
    gateway's sandbox emulators with the client's sandbox token (they know no live tokens)."""

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _token(self) -> None:
            form = parse_qs(self._body().decode())
            claims = jwt.decode(
                form["assertion"][0],
                certs=account.public_key,
                audience=GOOGLE_TOKEN_AUDIENCE,  # google-auth signs for Google's, wherever it posts
            )
            seen.assertions.append(claims)
            issued = "ya29." + secrets.token_urlsafe(16)
            seen.issued.append(issued)
            payload = json.dumps(
                {"access_token": issued, "expires_in": 3600, "token_type": "Bearer"}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def _forward(self) -> None:
            if self.path == "/token":
                return self._token()
            seen.authorizations.append((self.path, self.headers.get("Authorization", "")))
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "authorization", "content-length")
            }
            headers["Authorization"] = f"Bearer {sandbox_key}"
            answer = httpx.request(
                self.command, upstream + self.path, headers=headers, content=self._body()
            )
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "content-encoding",
                ):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

    return Proxy


@pytest.fixture
def proxy_server() -> Iterator[list[ThreadingHTTPServer]]:
    servers: list[ThreadingHTTPServer] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class LiveClient:
    """A live client whose own accounts are the proxy in front of the sandbox emulators."""

    tenant: Scope
    token: str
    account: ServiceAccount
    seen: Seen
    settings: Settings  # the gateway's, with the live API URLs pointed at the proxy
    operator: str


async def live_client_behind_proxy(
    live_gateway: Any, gql: Any, services: Any, proxy_server: list[ThreadingHTTPServer]
) -> LiveClient:
    client = await create_tenant(services, "Acme Live", "live")
    seen = Seen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    proxy_url = f"http://127.0.0.1:{server.server_address[1]}"
    account = service_account(token_uri=f"{proxy_url}/token")
    key = sandbox_token(live_gateway.settings.secret_key, client.client_id)
    server.RequestHandlerClass = recording_proxy(live_gateway.url, key, account, seen)
    proxy_server.append(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = airtable_token()
    operator = await operator_key(services)
    await gql(SET, {"input": credentials_input(client.client_id, token, account)}, key=operator)
    pointed = services.settings.model_copy(
        update={
            "airtable_api_url": f"{proxy_url}/sandbox/airtable",
            "google_api_root_url": f"{proxy_url}/sandbox/drive/",
            "airtable_api_token": SecretStr(airtable_token()),  # gateway-wide: must not be used
        }
    )
    return LiveClient(live(client.client_id), token, account, seen, pointed, operator)


async def test_a_live_client_writes_with_its_own_token_and_service_account(
    live_gateway, gql, services, proxy_server
):
    found_client = await live_client_behind_proxy(live_gateway, gql, services, proxy_server)
    client, seen, token = found_client.tenant, found_client.seen, found_client.token
    pointed = found_client.settings

    ams = ams_for(live(client.client_id), pointed)
    bases = await asyncio.to_thread(ams.airtable.list_bases)
    folder_id = await asyncio.to_thread(ams.drive.create_folder, "Acme Live", None, {"k": "v"})
    found = await asyncio.to_thread(ams.drive.find_by_app_property, "k", "v")

    assert not ams.sandbox and (ams.airtable_account, ams.drive_account) == ("client", "client")
    assert (ams.airtable_workspace_id, ams.drive_root_folder_id) == (WORKSPACE, ROOT_FOLDER)
    assert bases == []  # the proxied emulator answered as the client's (empty) account
    assert [f.id for f in found] == [folder_id]
    airtable_calls = [auth for path, auth in seen.authorizations if "/sandbox/airtable/" in path]
    drive_calls = [auth for path, auth in seen.authorizations if "/sandbox/drive/" in path]
    assert airtable_calls == [f"Bearer {token}"]
    # one token per worker thread's Drive service, each signed with the client's key:
    assert seen.assertions and {claims["iss"] for claims in seen.assertions} == {ACCOUNT_EMAIL}
    assert all("auth/drive" in claims["scope"] for claims in seen.assertions)
    assert len(drive_calls) == 2
    assert set(drive_calls) <= {f"Bearer {issued}" for issued in seen.issued}


@dataclass
class PointedServices:
    settings: Settings
    sessions: Any


async def test_a_live_client_is_provisioned_in_its_own_workspace_and_folder(
    live_gateway, gql, services, proxy_server
):
    found = await live_client_behind_proxy(live_gateway, gql, services, proxy_server)
    ams = ams_for(found.tenant, found.settings)
    shared = await asyncio.to_thread(ams.drive.create_folder, "Acme shared drive", None, {})
    google = {"serviceAccountJson": found.account.json, "rootFolderId": shared}
    update = {"client": found.tenant.client_id, "google": google}
    answer = await gql(SET, {"input": update}, key=found.operator)
    assert answer["setAmsCredentials"]["errors"] == []

    row = await provision(PointedServices(found.settings, services.sessions), found.tenant)

    async with services.sessions() as session:
        base = await session.get(SandboxBase, row.base_id)
    assert base is not None and base.workspace_id == WORKSPACE
    ams = ams_for(found.tenant, found.settings)
    wanted = {"gateway_client": found.tenant.client_id, "gateway_role": ROOT_ROLE}
    [root] = await asyncio.to_thread(ams.drive.find_by_app_properties, wanted)
    assert root.id == row.root_folder_id and root.parents == [shared]
    airtable_calls = {auth for path, auth in found.seen.authorizations if "/airtable/" in path}
    assert airtable_calls == {f"Bearer {found.token}"}


async def test_key_rotation_reencrypts_the_credentials(gql, services, tenant):
    operator = await operator_key(services)
    token, account = airtable_token(), service_account()
    old_only = services.settings.model_copy(update={"encryption_keys": SecretStr(OLD)})
    services.settings = old_only  # the gateway stores them under the old key
    await gql(SET, {"input": credentials_input(tenant.client_id, token, account)}, key=operator)
    rotated = old_only.model_copy(update={"encryption_keys": SecretStr(f"{NEW},{OLD}")})

    first = await reencrypt_all(services.sessions, rotated)
    again = await reencrypt_all(services.sessions, rotated)

    assert (first["ams_credentials"].rows, first["ams_credentials"].rewritten) == (1, 2)
    assert (again["ams_credentials"].rewritten, again["ams_credentials"].current) == (0, 2)
    new_only = old_only.model_copy(update={"encryption_keys": SecretStr(NEW)})
    opened = live_credentials(new_only, tenant.client_id)
    assert opened is not None and opened.airtable_token == token
    assert opened.google_service_account == json.loads(account.json)
