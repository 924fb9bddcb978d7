"""The durable "sync due" marker per tenant and entity, finding the syncs that need a worker, and
the per-record `sync_pending` marker that tells a sync which records to look at.

The database is the truth: the queue (arq, or the in-process one) carries only the keys, so a
lost message is found again here by the sweeper."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, false, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams.models import AmsSyncState
from app.contracts.entities import Entity
from app.db.engine import reading
from app.db.in_lists import in_lists
from app.db.models import CanonicalRecord, IngestJob
from app.settings import Settings
from app.tenancy.models import Tenant

SyncKey = tuple[str, bool, str]  # (client_id, livemode, entity): primitives, queue-safe
SWEEP_BATCH = 500


def sync_key(tenant: Tenant, entity: Entity) -> SyncKey:
    return (tenant.client_id, tenant.livemode, entity.value)


def key_parts(key: SyncKey) -> tuple[Tenant, Entity]:
    client_id, livemode, entity = key
    return Tenant(client_id, livemode), Entity(entity)


async def mark_sync_due(session: AsyncSession, tenant: Tenant, entity: Entity) -> None:
    """Called in the transaction that finishes an ingest job."""
    now = datetime.now(UTC)
    table = cast(Table, AmsSyncState.__table__)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        entity=entity.value,
        due_seq=1,
        done_seq=0,
        written=0,
        rejected=0,
        requests=0,
        platforms={},
        updated_at=now,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["client_id", "livemode", "entity"],
            set_={"due_seq": table.c.due_seq + 1, "dispatched_at": None, "updated_at": now},
        )
    )


_CANONICAL = cast(Table, CanonicalRecord.__table__)


def _canonical_by_key(*conditions: Any) -> Any:
    """An UPDATE of canonical records, one per parameter set (see `key_parameters`)."""
    table = _CANONICAL
    return update(table).where(
        table.c.client_id == bindparam("k_client"),
        table.c.livemode == bindparam("k_livemode"),
        table.c.entity == bindparam("k_entity"),
        table.c.source_platform == bindparam("k_platform"),
        table.c.external_id == bindparam("k_external"),
        *conditions,
    )


def key_parameters(tenant: Tenant, entity: str, platform: str, external_id: str) -> dict[str, Any]:
    return {
        "k_client": tenant.client_id,
        "k_livemode": tenant.livemode,
        "k_entity": entity,
        "k_platform": platform,
        "k_external": external_id,
    }


PEND = _canonical_by_key(_CANONICAL.c.sync_pending == false()).values(sync_pending=True)
# Cleared only while the content is the one handled: a newer write keeps it pending.
HANDLED = _canonical_by_key(
    _CANONICAL.c.content_hash == bindparam("k_hash"), _CANONICAL.c.sync_pending
).values(sync_pending=False)


async def mark_pending(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: Sequence[tuple[str, str]]
) -> None:
    """Have the sync look at these (source_platform, external_id) records again, changed or not
    (their AMS bookkeeping was reset): a pass reads only the records marked pending."""
    if keys:
        rows = [key_parameters(tenant, entity.value, *key) for key in keys]
        await session.execute(PEND, rows)


def _due(now: datetime, settings: Settings) -> Any:
    state = AmsSyncState
    redispatch_before = now - timedelta(seconds=settings.ams_sync_redispatch_after_seconds)
    return and_(
        state.due_seq > state.done_seq,
        or_(state.lease_until.is_(None), state.lease_until < now),
        or_(state.dispatched_at.is_(None), state.dispatched_at < redispatch_before),
        backed_off(now),
    )


def backed_off(now: datetime) -> Any:
    """A sync that failed is not retried before its backoff ends (see app.ams.service)."""
    return or_(AmsSyncState.retry_at.is_(None), AmsSyncState.retry_at <= now)


async def job_sync_key(sessions: async_sessionmaker[AsyncSession], job_id: str) -> SyncKey | None:
    """The sync an ingest job's records go to."""
    job = IngestJob
    async with reading(sessions) as session:
        found = (
            await session.execute(
                select(job.client_id, job.livemode, job.entity).where(job.id == job_id)
            )
        ).first()
    return None if found is None else (found[0], bool(found[1]), found[2])


async def claim_due_syncs(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> list[SyncKey]:
    """Due syncs nobody runs, each claimed for one redispatch window. Looking is read-only, so an
    idle sweep never takes SQLite's write lock."""
    now = datetime.now(UTC)
    state = AmsSyncState
    columns = (state.client_id, state.livemode, state.entity)
    async with reading(sessions) as session:
        found = (
            await session.execute(select(*columns).where(_due(now, settings)).limit(SWEEP_BATCH))
        ).all()
    if not found:
        return []
    async with sessions() as session, session.begin():
        claimed = await session.execute(
            update(state)
            .where(_due(now, settings), state.client_id.in_(_one_in_list(found)))
            .values(dispatched_at=now)
            .returning(*columns)
        )
        return sorted((row[0], bool(row[1]), row[2]) for row in claimed.all())


def _one_in_list(found: Sequence[Row[str, bool, str]]) -> list[str]:
    """The clients of one sweep's rows (at most SWEEP_BATCH), padded to one of a few lengths."""
    return in_lists(sorted({row[0] for row in found}), SWEEP_BATCH)[0]
