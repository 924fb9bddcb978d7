"""The `gateway` command as an operator runs it: each `--json` call prints exactly one JSON object.

Every command runs the installed entry point in a subprocess against a temporary SQLite file; the
keys it issues are then presented to the app to prove revoke and rotate take effect.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.asgi import create_app
from app.contracts.export import contract_files
from app.services import Services
from app.settings import ROOT_DIR
from tests.conftest import make_settings

SECRET = re.compile(r"^gw_test_[0-9a-f]{12}_[0-9a-f]{48}$")
ENTITY_FILES = ["asset", "audience", "campaign", "product"]
RULE_FILE_SCHEMAS = [
    "contracts/mappings/mapping-rules.schema.json",
    "contracts/rules/validation-rules.schema.json",
]
VIEWER = {"query": "{ viewer { mode client { id name } } }"}


@dataclass
class Cli:
    database: Path

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database}"

    def run(self, *args: str) -> tuple[int, dict[str, Any]]:
        """Run `gateway <args>`; stdout must be exactly one JSON object."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
        env["GATEWAY_DATABASE_URL"] = self.database_url
        done = subprocess.run(
            [str(Path(sys.executable).parent / "gateway"), *args],
            env=env,
            cwd=self.database.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = done.stdout.splitlines()
        assert len(lines) == 1, (
            f"`gateway {' '.join(args)}` should print exactly one line on stdout, got "
            f"{done.stdout!r} (stderr: {done.stderr!r})"
        )
        payload = json.loads(lines[0])
        assert isinstance(payload, dict), payload
        return done.returncode, payload

    def ok(self, *args: str) -> dict[str, Any]:
        code, payload = self.run(*args)
        assert code == 0, payload
        assert "error" not in payload, payload
        return payload


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A migrated database, shared by the tests of this module."""
    cli = Cli(tmp_path_factory.mktemp("gateway-cli") / "gw.db")
    assert cli.ok("migrate", "--json") == {"migrated": True}
    return cli


@pytest.fixture(scope="module")
def client_id(cli: Cli) -> str:
    return str(cli.ok("clients", "create", "Acme Outdoor", "--json")["id"])


@pytest.fixture
async def app(cli: Cli) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process on the database the CLI writes to."""
    services = Services.create(make_settings(cli.database_url))
    transport = httpx.ASGITransport(app=create_app(services.settings, services))
    await services.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
    finally:
        await services.stop()


async def viewer_status(app: httpx.AsyncClient, secret: str) -> tuple[int, dict[str, Any]]:
    response = await app.post(
        "/graphql", json=VIEWER, headers={"Authorization": f"Bearer {secret}"}
    )
    return response.status_code, response.json()


def test_migrate_is_repeatable_and_prints_one_object(cli: Cli) -> None:
    assert cli.ok("migrate", "--json") == {"migrated": True}


def test_migrate_creates_a_database_from_nothing(tmp_path: Path) -> None:
    fresh = Cli(tmp_path / "fresh.db")
    assert not fresh.database.exists()
    assert fresh.ok("migrate", "--json") == {"migrated": True}
    assert fresh.database.is_file()
    assert fresh.ok("clients", "create", "First", "--json")["name"] == "First"


def test_clients_create_returns_the_new_client(cli: Cli) -> None:
    created = cli.ok("clients", "create", "Acme Outdoor", "--json")
    assert created["id"].startswith("cli_"), created
    assert created["name"] == "Acme Outdoor"
    again = cli.ok("clients", "create", "Acme Outdoor", "--json")
    assert again["id"] != created["id"], "each call creates its own client"


def test_keys_create_shows_the_secret_once_and_stores_only_its_hash(
    cli: Cli, client_id: str
) -> None:
    created = cli.ok("keys", "create", "--client", client_id, "--mode", "test", "--json")
    assert SECRET.match(created["secret"]), created
    assert created["id"].startswith("key_"), created
    assert created["client_id"] == client_id
    assert created["mode"] == "test"

    stored = cli.database.read_bytes()
    wal = cli.database.with_name(cli.database.name + "-wal")
    if wal.exists():
        stored += wal.read_bytes()
    secret = created["secret"].encode()
    assert secret not in stored, "the database holds the API key in clear"
    assert secret.rsplit(b"_", 1)[1] not in stored, "the database holds the key's secret part"
    lookup = created["secret"].split("_")[2].encode()
    assert lookup in stored, "sanity check: the key row was written to this file"


def test_keys_create_for_an_unknown_client_fails_with_not_found(cli: Cli) -> None:
    code, payload = cli.run(
        "keys", "create", "--client", "cli_doesnotexist", "--mode", "test", "--json"
    )
    assert code == 1
    assert payload["error"]["code"] == "not_found", payload
    assert payload["error"]["message"], payload


def test_keys_revoke_unknown_key_fails_with_not_found(cli: Cli) -> None:
    code, payload = cli.run("keys", "revoke", "key_doesnotexist", "--json")
    assert code == 1
    assert payload["error"]["code"] == "not_found", payload


async def test_a_revoked_key_is_refused_by_the_api(
    cli: Cli, client_id: str, app: httpx.AsyncClient
) -> None:
    created = await asyncio.to_thread(
        cli.ok, "keys", "create", "--client", client_id, "--mode", "test", "--json"
    )
    status, body = await viewer_status(app, created["secret"])
    assert status == 200, body
    assert body["data"]["viewer"]["client"] == {"id": client_id, "name": "Acme Outdoor"}

    revoked = await asyncio.to_thread(cli.ok, "keys", "revoke", created["id"], "--json")
    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"], revoked

    status, body = await viewer_status(app, created["secret"])
    assert status == 401, body
    assert body["error"]["code"] == "invalid_api_key", body


async def test_keys_rotate_issues_a_new_secret_and_revokes_the_old_one(
    cli: Cli, client_id: str, app: httpx.AsyncClient
) -> None:
    old = await asyncio.to_thread(
        cli.ok, "keys", "create", "--client", client_id, "--mode", "test", "--json"
    )
    rotated = await asyncio.to_thread(cli.ok, "keys", "rotate", old["id"], "--json")
    assert rotated["replaces"] == old["id"], rotated
    assert rotated["id"] != old["id"], rotated
    assert SECRET.match(rotated["secret"]), rotated
    assert rotated["secret"] != old["secret"]

    status, body = await viewer_status(app, rotated["secret"])
    assert status == 200, body
    assert body["data"]["viewer"]["client"]["id"] == client_id, "same client as the old key"
    assert body["data"]["viewer"]["mode"] == "TEST", "same mode as the old key"
    status, body = await viewer_status(app, old["secret"])
    assert status == 401, body
    assert body["error"]["code"] == "invalid_api_key", body

    code, again = await asyncio.to_thread(cli.run, "keys", "rotate", old["id"], "--json")
    assert code == 1, "a revoked key cannot be rotated again"
    assert again["error"]["code"] == "key_revoked", again


def test_contracts_export_writes_every_contract_file_under_the_root(
    cli: Cli, tmp_path: Path
) -> None:
    written = cli.ok("contracts", "export", "--json", "--root", str(tmp_path))["written"]
    assert sorted(written) == sorted(str(path) for path in contract_files())
    assert "graphql/schema.graphql" in written
    schemas = sorted(path for path in written if path.endswith(".schema.json"))
    entities = [f"contracts/{name}.schema.json" for name in ENTITY_FILES]
    assert schemas == sorted(entities + RULE_FILE_SCHEMAS), written
    assert "contracts/openapi.json" in written
    for relative in written:
        assert (tmp_path / relative).is_file(), relative
    assert "type Query" in (tmp_path / "graphql/schema.graphql").read_text(encoding="utf-8")
    product = json.loads((tmp_path / "contracts/product.schema.json").read_text(encoding="utf-8"))
    assert product["$schema"] == "https://json-schema.org/draft/2020-12/schema", product

    # Exporting again onto up-to-date files writes nothing.
    assert cli.ok("contracts", "export", "--json", "--root", str(tmp_path)) == {"written": []}


def test_contracts_export_reproduces_the_committed_files(cli: Cli, tmp_path: Path) -> None:
    written = cli.ok("contracts", "export", "--json", "--root", str(tmp_path))["written"]
    drifted = [
        relative
        for relative in sorted(written)
        if (tmp_path / relative).read_text(encoding="utf-8")
        != (ROOT_DIR / relative).read_text(encoding="utf-8")
    ]
    assert drifted == [], (
        f"the committed files differ from what the code generates: {drifted}; "
        "run `./gateway.sh contracts export` (or fix the code) and commit the result"
    )


def test_clients_carry_the_defaults_raw_records_need(cli: Cli) -> None:
    created = cli.ok(
        "clients",
        "create",
        "Lisbon Shop",
        "--currency",
        "eur",
        "--region",
        "pt",
        "--timezone",
        "Europe/Lisbon",
        "--json",
    )
    assert (created["currency"], created["region"], created["timezone"]) == (
        "EUR",
        "PT",
        "Europe/Lisbon",
    )
    changed = cli.ok("clients", "configure", created["id"], "--currency", "GBP", "--json")
    assert (changed["currency"], changed["region"]) == ("GBP", "PT")

    code, refused = cli.run(
        "clients",
        "configure",
        created["id"],
        "--currency",
        "EURO",
        "--timezone",
        "Mars/Olympus",
        "--json",
    )
    assert code == 1
    assert refused["error"]["code"] == "invalid_client_defaults", refused


async def test_operator_keys_list_and_rotation_with_an_overlap(
    cli: Cli, client_id: str, app: httpx.AsyncClient
) -> None:
    operator = await asyncio.to_thread(
        cli.ok, "keys", "create", "--operator", "--mode", "live", "--json"
    )
    assert (operator["role"], operator["client_id"]) == ("operator", None)
    assert "keys" in operator["scopes"]
    listed = await asyncio.to_thread(cli.ok, "keys", "list", "--json")
    assert [key["id"] for key in listed["keys"]] == [operator["id"]]
    assert all("secret" not in key for key in listed["keys"])

    reader = await asyncio.to_thread(
        cli.ok,
        "keys", "create", "--client", client_id, "--mode", "test",
        "--scopes", "read", "--expires-in", "30d", "--json",
    )  # fmt: skip
    assert reader["scopes"] == ["read"] and reader["expires_at"]
    rotated = await asyncio.to_thread(
        cli.ok, "keys", "rotate", reader["id"], "--overlap", "1h", "--json"
    )
    assert rotated["scopes"] == ["read"] and rotated["expires_at"] == reader["expires_at"]
    for secret in (reader["secret"], rotated["secret"]):
        status, body = await viewer_status(app, secret)
        assert status == 200, body

    code, refused = cli.run("keys", "create", "--mode", "test", "--scopes", "keys", "--json")
    assert code == 1 and refused["error"]["code"] == "invalid_key_role", refused


def test_key_changes_made_with_the_cli_are_audited(cli: Cli, client_id: str) -> None:
    created = cli.ok("keys", "create", "--client", client_id, "--mode", "test", "--json")
    cli.ok("keys", "revoke", created["id"], "--json")

    async def audit_rows() -> list[tuple[str, list[str]]]:
        from sqlalchemy import select

        from app.audit.models import AuditEvent
        from app.db.engine import create_engine, create_session_factory

        engine = create_engine(cli.database_url)
        try:
            async with create_session_factory(engine)() as session:
                rows = await session.scalars(
                    select(AuditEvent).where(AuditEvent.actor_role == "cli")
                )
                return [(row.operation, row.target_ids) for row in rows]
        finally:
            await engine.dispose()

    rows = asyncio.run(audit_rows())
    assert ("cli.keys.create", [client_id, created["id"]]) in rows
    assert ("cli.keys.revoke", [created["id"], created["id"]]) in rows
    assert created["secret"] not in str(rows)
