"""Recording, reading and purging the audit log.

Requests never wait for their audit rows: entries are buffered in memory and written in batches by
a background task (and on shutdown). The CLI, which has no background task, writes its entries in
the same transaction as the change it audits.
"""

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.flushing import PeriodicFlush
from app.ids import new_id
from app.pagination import Page, newest_first
from app.settings import Settings
from app.tenancy.models import Principal

log = structlog.get_logger("gateway.audit")

MAX_TARGET_IDS = 50
PURGE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class AuditEntry:
    operation: str
    result: str
    actor_role: str
    actor_key_id: str | None = None
    client_id: str | None = None
    livemode: bool | None = None
    target_ids: list[str] = field(default_factory=list)
    source_ip: str | None = None
    request_id: str | None = None

    @classmethod
    def by(
        cls,
        principal: Principal,
        operation: str,
        result: str,
        target_ids: list[str] | None = None,
        source_ip: str | None = None,
        request_id: str | None = None,
    ) -> "AuditEntry":
        """An entry for something a key did (on the client it acted on, if any)."""
        return cls(
            operation=operation,
            result=result,
            actor_role=principal.role.value,
            actor_key_id=principal.key_id,
            client_id=principal.client_id,
            livemode=None if principal.client_id is None else principal.tenant.livemode,
            target_ids=target_ids or [],
            source_ip=source_ip,
            request_id=request_id,
        )


def _row(entry: AuditEntry) -> dict[str, object]:
    values = asdict(entry)
    values["target_ids"] = entry.target_ids[:MAX_TARGET_IDS]
    return {"id": new_id("aud"), "occurred_at": datetime.now(UTC), **values}


async def write(session: AsyncSession, entries: list[AuditEntry]) -> None:
    """Write entries in the caller's transaction (the CLI's way)."""
    if entries:
        await session.execute(insert(AuditEvent), [_row(entry) for entry in entries])


class AuditLog(PeriodicFlush):
    """Buffers entries and writes them in batches off the request path; purges old rows hourly."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        super().__init__(settings.audit_flush_interval_seconds)
        self._sessions = sessions
        self._settings = settings
        self._pending: list[dict[str, object]] = []
        self._next_purge = 0.0

    def record(self, entry: AuditEntry) -> None:
        self._pending.append(_row(entry))  # stamped now, written soon

    async def _write_pending(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(insert(AuditEvent), batch)
        except Exception:
            self._pending[:0] = batch  # kept for the next attempt, never dropped silently
            log.exception("audit.flush_failed", pending=len(self._pending))

    async def _after_flush(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL_SECONDS
        try:
            await purge(self._sessions, timedelta(days=self._settings.audit_retention_days))
        except Exception:
            log.exception("audit.purge_failed")


@dataclass(frozen=True)
class AuditFilter:
    client_id: str | None = None
    actor_key_id: str | None = None
    operation: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    session: AsyncSession, where: AuditFilter, first: int, after: str | None
) -> Page[AuditEvent]:
    """Newest first. Operators only: the caller checks the policy."""
    query = select(AuditEvent)
    if where.client_id is not None:
        query = query.where(AuditEvent.client_id == where.client_id)
    if where.actor_key_id is not None:
        query = query.where(AuditEvent.actor_key_id == where.actor_key_id)
    if where.operation is not None:
        query = query.where(AuditEvent.operation == where.operation)
    if where.result is not None:
        query = query.where(AuditEvent.result == where.result)
    if where.since is not None:
        query = query.where(AuditEvent.occurred_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.occurred_at < where.until)
    return await newest_first(session, query, AuditEvent.id, first, after)


async def purge(sessions: async_sessionmaker[AsyncSession], retention: timedelta) -> int:
    """Delete rows older than the retention; the only deletion the audit log knows."""
    cutoff = datetime.now(UTC) - retention
    async with sessions() as session, session.begin():
        result = await session.execute(delete(AuditEvent).where(AuditEvent.occurred_at < cutoff))
    purged = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log.info("audit.purged", rows=purged, older_than=cutoff.isoformat())
    return purged
