"""Metering: counts are added to daily rows, either inside the transaction that did the work
(job results: exact and durable) or through the in-memory Meter (per-request counts: summed in the
process and flushed every few seconds, never a database write per request).
"""

import csv
import io
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import IngestJob
from app.flushing import PeriodicFlush
from app.tenancy.models import Tenant
from app.usage.metrics import Metric
from app.usage.models import UsageDaily

log = structlog.get_logger("gateway.usage")

CounterKey = tuple[str, bool, str, str]  # client, livemode, day, metric


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def _add_statement(dialect_name: str) -> Any:
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = dialect_insert(UsageDaily)
    return statement.on_conflict_do_update(
        index_elements=["client_id", "livemode", "day", "metric"],
        set_={"value": UsageDaily.value + statement.excluded.value},
    )


async def add_counts(session: AsyncSession, counts: Mapping[CounterKey, int]) -> None:
    rows = [
        {"client_id": client, "livemode": live, "day": day, "metric": metric, "value": value}
        for (client, live, day, metric), value in sorted(counts.items())  # one lock order
        if value
    ]
    if rows:
        await session.execute(_add_statement(session.get_bind().dialect.name), rows)


async def add_usage(session: AsyncSession, tenant: Tenant, counts: Mapping[Metric, int]) -> None:
    """Add to today's counters in the caller's transaction."""
    day = today()
    await add_counts(
        session,
        {(tenant.client_id, tenant.livemode, day, metric.value): n for metric, n in counts.items()},
    )


def job_usage(job: IngestJob) -> dict[Metric, int]:
    """What a finished job adds to its client's day."""
    return {
        Metric.RECORDS_RECEIVED: job.received,
        Metric.RECORDS_PROCESSED: job.processed,
        Metric.RECORDS_QUARANTINED: job.quarantined,
    }


class Meter(PeriodicFlush):
    """Per-request counts, summed in memory and flushed by a background task."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
        super().__init__(interval)
        self._sessions = sessions
        self._pending: Counter[CounterKey] = Counter()

    def count(self, tenant: Tenant, metric: Metric, amount: int = 1) -> None:
        self._pending[(tenant.client_id, tenant.livemode, today(), metric.value)] += amount

    async def _write_pending(self) -> None:
        batch, self._pending = self._pending, Counter()
        if not batch:
            return
        try:
            async with self._sessions() as session, session.begin():
                await add_counts(session, batch)
        except Exception:
            self._pending.update(batch)  # counted again next time, never lost silently
            log.exception("usage.flush_failed", pending=len(self._pending))


async def usage_between(
    session: AsyncSession, client_id: str | None, livemode: bool | None, first: date, last: date
) -> list[UsageDaily]:
    """Daily rows from `first` to `last` inclusive; every client when client_id is None."""
    query = select(UsageDaily).where(
        UsageDaily.day >= first.isoformat(), UsageDaily.day <= last.isoformat()
    )
    if client_id is not None:
        query = query.where(UsageDaily.client_id == client_id)
    if livemode is not None:
        query = query.where(UsageDaily.livemode == livemode)
    order = (UsageDaily.day, UsageDaily.client_id, UsageDaily.livemode, UsageDaily.metric)
    return list(await session.scalars(query.order_by(*order)))


def as_csv(rows: list[UsageDaily]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["day", "client_id", "mode", "metric", "value"])
    for row in rows:
        mode = "live" if row.livemode else "test"
        writer.writerow([row.day, row.client_id, mode, row.metric, row.value])
    return out.getvalue()
