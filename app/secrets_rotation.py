"""Re-encryption after an encryption key rotation: every stored secret rewritten under the newest
key of GATEWAY_ENCRYPTION_KEYS, so the older keys can then be removed.

Rotation procedure: put the new key first in GATEWAY_ENCRYPTION_KEYS (keep the old ones after
it), restart, run `gateway secrets reencrypt` until it reports nothing left to rewrite, then drop
the old keys. Idempotent (a value already under the newest key is left alone), batched (one short
transaction per batch), and safe beside a running gateway: a value is only replaced if it is still
the one that was read, so a secret rotated meanwhile is never overwritten with the old one."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from app.ams_credentials.models import AmsCredentials
from app.encryption import UndecryptableSecret, is_current, reencrypt
from app.events.models import WebhookEndpoint
from app.settings import Settings
from app.webhooks.models import WebhookConnection


@dataclass(frozen=True)
class EncryptedColumns:
    """A table's encrypted columns (each holds an app.encryption token, or null)."""

    name: str
    id_column: InstrumentedAttribute[str]
    columns: Sequence[InstrumentedAttribute[str | None]] | Sequence[InstrumentedAttribute[str]]


# Every user of app.encryption stores its tokens in one of these.
ENCRYPTED: list[EncryptedColumns] = [
    EncryptedColumns(
        "webhook_connections",
        WebhookConnection.id,
        (WebhookConnection.secret_encrypted, WebhookConnection.previous_secret_encrypted),
    ),
    EncryptedColumns(
        "webhook_endpoints",
        WebhookEndpoint.id,
        (WebhookEndpoint.secret, WebhookEndpoint.previous_secret),
    ),
    EncryptedColumns(
        "ams_credentials",
        AmsCredentials.client_id,
        (AmsCredentials.airtable_token_encrypted, AmsCredentials.google_service_account_encrypted),
    ),
]


@dataclass
class TableReport:
    rows: int = 0
    rewritten: int = 0  # values now under the newest key
    current: int = 0  # values that already were
    changed_meanwhile: int = 0  # replaced by the gateway between our read and our write
    undecryptable: list[str] = field(default_factory=list)  # row ids: no configured key opens them


async def reencrypt_all(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, batch_size: int = 500
) -> dict[str, TableReport]:
    return {
        table.name: await _reencrypt_table(sessions, settings, table, batch_size)
        for table in ENCRYPTED
    }


async def _reencrypt_table(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    table: EncryptedColumns,
    batch_size: int,
) -> TableReport:
    report = TableReport()
    after = ""
    while True:
        async with sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.id_column, *table.columns)
                    .where(table.id_column > after)
                    .order_by(table.id_column)
                    .limit(batch_size)
                )
            ).all()
            for row in rows:
                await _reencrypt_row(session, settings, table, row[0], list(row[1:]), report)
        if not rows:
            return report
        report.rows += len(rows)
        after = rows[-1][0]


async def _reencrypt_row(
    session: AsyncSession,
    settings: Settings,
    table: EncryptedColumns,
    row_id: str,
    tokens: list[str | None],
    report: TableReport,
) -> None:
    for column, token in zip(table.columns, tokens, strict=True):
        if token is None:
            continue
        try:
            if is_current(settings, token):
                report.current += 1
                continue
            fresh = reencrypt(settings, token)
        except UndecryptableSecret:
            report.undecryptable.append(row_id)
            continue
        done = await session.execute(
            update(table.id_column.class_)
            .where(table.id_column == row_id, column == token)
            .values({column.key: fresh})
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            report.rewritten += 1
        else:
            report.changed_meanwhile += 1
