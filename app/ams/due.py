"""The durable "sync due" marker per tenant and entity, and finding the syncs that need a worker.

The database is the truth: the queue (arq, or the in-process one) carries only the keys, so a
lost message is found again here by the sweeper."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams.models import AmsSyncState
from app.contracts.entities import Entity
from app.db.engine import reading
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
        unchanged=0,
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
            .where(_due(now, settings), state.client_id.in_({row[0] for row in found}))
            .values(dispatched_at=now)
            .returning(*columns)
        )
        return sorted((row[0], bool(row[1]), row[2]) for row in claimed.all())
