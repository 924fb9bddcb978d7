"""Encryption key rotation: `gateway secrets reencrypt` rewrites every stored secret (webhook
connection secrets with their overlap predecessors, event subscriber signing secrets) under the
newest key, idempotently and in batches; afterwards the old key can go and every secret still
opens; a secret no configured key opens is reported, never lost."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from app.contracts.fields import SourcePlatform
from app.encryption import decrypt, encrypt
from app.events import service as events
from app.events.models import WebhookEndpoint
from app.secrets_rotation import ENCRYPTED, TableReport, _reencrypt_row, reencrypt_all
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Tenant as TenantScope
from app.webhooks import connections
from app.webhooks.connections import SecretChange
from app.webhooks.models import WebhookConnection
from tests.conftest import Tenant

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"encryption_keys": SecretStr(OLD)})


def keyed(settings: Settings, *keys: str) -> Settings:
    return settings.model_copy(update={"encryption_keys": SecretStr(",".join(keys))})


async def store_secrets(services: Services, tenant: Tenant) -> dict[str, str]:
    """Two connections (one mid-rotation, with its previous secret) and three endpoints."""
    scope = TenantScope(tenant.client_id, False)
    plain: dict[str, str] = {}
    until = datetime.now(UTC) + timedelta(days=1)
    async with services.sessions() as session, session.begin():
        for platform, secret in ((SourcePlatform.SHOPIFY, "shpss_first"),
                                 (SourcePlatform.SHOPIFY, "shpss_second"),
                                 (SourcePlatform.WOOCOMMERCE, "wc_secret")):  # fmt: skip
            keep = until if secret == "shpss_second" else None
            change = SecretChange(platform, secret, keep)
            await connections.set_secret(session, services.settings, scope, change)
            plain[platform.value] = secret
        for number in range(3):
            created = await events.create_endpoint(
                session,
                services.settings,
                scope,
                f"http://127.0.0.1:9/hook/{number}",
                ["job.completed"],
                None,
            )
            plain[created.endpoint.id] = created.secret
    return plain


async def opened_secrets(services: Services, settings: Settings) -> dict[str, str]:
    async with services.sessions() as session:
        found = {
            row.platform: decrypt(settings, row.secret_encrypted)
            for row in await session.scalars(select(WebhookConnection))
        }
        previous = await session.scalar(
            select(WebhookConnection.previous_secret_encrypted).where(
                WebhookConnection.platform == "shopify"
            )
        )
        assert previous is not None
        found["shopify-previous"] = decrypt(settings, previous)
        for endpoint in await session.scalars(select(WebhookEndpoint)):
            found[endpoint.id] = decrypt(settings, endpoint.secret)
    return found


async def test_every_secret_moves_to_the_newest_key_and_the_old_key_can_go(services, tenant):
    plain = await store_secrets(services, tenant)
    rotated = keyed(services.settings, NEW, OLD)

    first = await reencrypt_all(services.sessions, rotated, batch_size=2)
    assert first["webhook_connections"].rows == 2
    assert first["webhook_connections"].rewritten == 3  # two secrets + one previous secret
    assert first["webhook_endpoints"].rows == 3
    assert first["webhook_endpoints"].rewritten == 3
    assert all(report.undecryptable == [] for report in first.values())

    only_new = keyed(services.settings, NEW)
    opened = await opened_secrets(services, only_new)
    assert opened.pop("shopify-previous") == "shpss_first"
    assert opened == plain

    again = await reencrypt_all(services.sessions, rotated)
    assert [r.rewritten for r in again.values()] == [0, 0, 0]  # ams_credentials: none stored
    assert [r.current for r in again.values()] == [3, 3, 0]


async def test_a_secret_no_key_opens_is_reported_and_left_as_it_was(services, tenant):
    await store_secrets(services, tenant)
    stranger = encrypt(keyed(services.settings, Fernet.generate_key().decode()), "lost")
    async with services.sessions() as session, session.begin():
        endpoint = (await session.scalars(select(WebhookEndpoint))).first()
        assert endpoint is not None
        endpoint.secret = stranger
        lost_id = endpoint.id

    reports = await reencrypt_all(services.sessions, keyed(services.settings, NEW, OLD))
    assert reports["webhook_endpoints"].undecryptable == [lost_id]
    assert reports["webhook_endpoints"].rewritten == 2
    async with services.sessions() as session:
        assert (await session.get(WebhookEndpoint, lost_id)).secret == stranger


async def test_a_secret_changed_meanwhile_is_not_overwritten(services, tenant):
    await store_secrets(services, tenant)
    rotated = keyed(services.settings, NEW, OLD)
    table = next(t for t in ENCRYPTED if t.name == "webhook_endpoints")
    async with services.sessions() as session, session.begin():
        endpoint = (await session.scalars(select(WebhookEndpoint))).first()
        assert endpoint is not None
        read_earlier = encrypt(services.settings, "the secret before a rotation")
        report = TableReport()
        await _reencrypt_row(session, rotated, table, endpoint.id, [read_earlier, None], report)
        current = endpoint.secret
    assert report.changed_meanwhile == 1 and report.rewritten == 0
    async with services.sessions() as session:
        assert (await session.get(WebhookEndpoint, endpoint.id)).secret == current


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_cli_reports_counts_as_one_json_object(services, tenant, database_url):
    await store_secrets(services, tenant)
    env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_ENCRYPTION_KEYS": f"{NEW},{OLD}"}
    gateway = str(Path(sys.executable).parent / "gateway")
    done = await asyncio.to_thread(
        subprocess.run,
        [gateway, "secrets", "reencrypt", "--batch-size", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    tables = json.loads(done.stdout)["tables"]
    assert tables["webhook_connections"]["rewritten"] == 3
    assert tables["webhook_endpoints"] == {
        "rows": 3,
        "rewritten": 3,
        "current": 0,
        "changed_meanwhile": 0,
        "undecryptable": [],
    }
