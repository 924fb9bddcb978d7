"""Per record attempts of the AMS sync for transient failures, and giving up on a record.

A record whose write (or, for an asset, the fetch of its file) fails for a reason that may pass
by itself — Airtable's 429s or 5xx after the per-request retries, a timeout, a circuit that stayed
open past the writer's patience, an asset origin that does not answer — keeps its place in the
sync: its failed attempts are counted here, and it is not tried again before its backoff ends
(exponential with jitter, as the sync's own), so it never slows the records around it. The
sync stays due meanwhile. When `ams_max_attempts` attempts of the same content have failed, the
record is quarantined EXHAUSTED (stage AMS) with the last error and the sync stops trying it;
a replay, or a newer version of the record, starts a fresh budget. A write that lands (or a
422 refusal, which is an answer) forgets the attempts.

Attempts are counted only for records actually attempted: a record waiting out its backoff, or
left unsent because the sync paused on an open circuit, costs nothing.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import requests
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.ams.archival import by_key
from app.assets.errors import AssetError
from app.db.models import Base, CanonicalRecord, UtcDateTime
from app.integrations.circuit import CircuitOpen, is_transient
from app.integrations.errors import AmsRequestError
from app.settings import Settings
from app.tenancy.models import Tenant

Key = tuple[str, str]  # (source_platform, external_id)
MAX_BACKOFF_STEPS = 6  # the longest wait is 2**6 base delays (about 32 min by default)


class AmsRecordRetry(Base):
    """A record whose last sync attempts failed for a transient reason (none: no failure)."""

    __tablename__ = "ams_record_retries"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), doc="The content the attempts sent")
    attempts: Mapped[int] = mapped_column(Integer, doc="Failed attempts in a row of that content")
    retry_at: Mapped[datetime] = mapped_column(UtcDateTime(), doc="Not attempted before this")
    error_type: Mapped[str] = mapped_column(String(64))
    error_message: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed, said without secrets or personal data (no URL, no cell value)."""

    error_type: str
    message: str


def backoff(base_seconds: float, failures: int) -> timedelta:
    """Exponential in the failures in a row, capped, with jitter so many records or tenants
    failing at once (an Airtable outage) do not all retry together."""
    steps = min(max(failures - 1, 0), MAX_BACKOFF_STEPS)
    return timedelta(seconds=base_seconds * 2**steps * random.uniform(1.0, 1.2))


def failure_of(error: BaseException) -> Failure | None:
    """The failure to count for a write that raised `error`; None when it is not transient (the
    sync fails as a whole: a missing base, a refused token, a bug)."""
    if isinstance(error, CircuitOpen):
        return Failure(error.code, "Airtable's circuit for the base stayed open.")
    if not is_transient(error):
        return None
    if isinstance(error, AmsRequestError):
        return Failure(
            error.error_type or f"HTTP_{error.status}",
            f"Airtable answered {error.status} on every try.",
        )
    if isinstance(error, requests.Timeout | TimeoutError):
        return Failure("timeout", "Airtable did not answer in time on every try.")
    return Failure("connection_error", "Airtable could not be reached on every try.")


def asset_failure(error: AssetError) -> Failure:
    """An asset origin that failed for now (its message names the URL: not kept)."""
    return Failure(error.code, "The asset's file could not be fetched on every try.")


def _of(tenant: Tenant, entity: str, keyed: Any) -> Any:
    """`keyed`: a clause of `by_key`. Syncs look up pages and batches of every size, and each
    distinct statement stays in the engine's cache for good: an OR per record made one compiled
    statement per count of records, each as large as its records (~1 MB at 100)."""
    table = AmsRecordRetry
    return and_(
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity,
        keyed,
    )


async def pending(
    session: AsyncSession, tenant: Tenant, entity: str, keys: Sequence[Key]
) -> dict[Key, AmsRecordRetry]:
    """The retry state of these records (only those that failed lately have one)."""
    found: dict[Key, AmsRecordRetry] = {}
    for keyed in by_key(AmsRecordRetry, keys):
        rows = await session.scalars(select(AmsRecordRetry).where(_of(tenant, entity, keyed)))
        found |= {(row.source_platform, row.external_id): row for row in rows}
    return found


def waiting(retry: AmsRecordRetry | None, record: CanonicalRecord, now: datetime) -> bool:
    """Its content failed lately and its backoff has not ended: not attempted in this pass."""
    return retry is not None and retry.content_hash == record.content_hash and retry.retry_at > now


async def count_failures(
    session: AsyncSession,
    tenant: Tenant,
    records: Sequence[CanonicalRecord],
    failure: Failure,
    settings: Settings,
    now: datetime,
) -> list[CanonicalRecord]:
    """One more failed attempt for each record (the first of a newer content starts again at
    one); the records whose attempts are spent, for the caller to quarantine EXHAUSTED."""
    if not records:
        return []
    entity = records[0].entity
    keys = [(r.source_platform, r.external_id) for r in records]
    known = await pending(session, tenant, entity, keys)
    rows, spent = [], []
    for record in records:
        previous = known.get((record.source_platform, record.external_id))
        same = previous is not None and previous.content_hash == record.content_hash
        attempts = previous.attempts + 1 if previous is not None and same else 1
        if attempts >= settings.ams_max_attempts:
            spent.append(record)
        rows.append(
            {
                "client_id": tenant.client_id,
                "livemode": tenant.livemode,
                "entity": entity,
                "source_platform": record.source_platform,
                "external_id": record.external_id,
                "content_hash": record.content_hash,
                "attempts": attempts,
                "retry_at": now + backoff(settings.ams_sync_redispatch_after_seconds, attempts),
                "error_type": failure.error_type[:64],
                "error_message": failure.message,
                "updated_at": now,
            }
        )
    await _save(session, rows)
    return spent


async def _save(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    table = cast(Table, AmsRecordRetry.__table__)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    columns = ("content_hash", "attempts", "retry_at", "error_type", "error_message", "updated_at")
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["client_id", "livemode", "entity", "source_platform", "external_id"],
            set_={name: statement.excluded[name] for name in columns},
        ),
        rows,
    )


async def forget(session: AsyncSession, tenant: Tenant, entity: str, keys: Sequence[Key]) -> None:
    """The records were written, refused for good, replayed or exhausted: no attempts left."""
    for keyed in by_key(AmsRecordRetry, keys):
        await session.execute(
            delete(AmsRecordRetry)
            .where(_of(tenant, entity, keyed))
            .execution_options(synchronize_session=False)
        )
