"""What the gateway believes the base holds: the canonical records of a tenant and entity with
their sync bookkeeping. A record is judged only when it is settled — written, not refused, and
its current content (under the current field map) is what was written; any other is pending.

Linked records shown in one merged row (app.ams.identity_rows) are judged once, by their merged
row: it is expected to hold the merged values, computed by the same function the sync writes
with, and is judged only when every member is settled; the other members have no row of their
own to judge."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams import identity_rows
from app.ams.archival import same_record, scoped
from app.ams.fieldmap import TableMap
from app.ams.models import AmsSyncRecord, RecordSyncStatus
from app.contracts.entities import Entity
from app.db.in_lists import in_lists
from app.db.models import CanonicalRecord
from app.reconciliation.compare import Columns, Expected, Key
from app.records.policies import current_policy
from app.tenancy.models import Tenant

IN_CHUNK = 1000  # ids per IN (...): far below SQLite's and asyncpg's bound-parameter limits


@dataclass
class Snapshot:
    population: int  # settled records
    expected: list[Expected] = field(default_factory=list)
    unjudged: dict[Key, str | None] = field(default_factory=dict)  # full runs only


def _settled(map_version: int) -> Any:
    record, synced = CanonicalRecord, AmsSyncRecord
    return and_(
        synced.status == RecordSyncStatus.SYNCED.value,
        synced.airtable_record_id.is_not(None),
        synced.content_hash == record.content_hash,
        synced.map_version == map_version,
        identity_rows.shown_in_own_row(),
    )


async def settled_count(
    session: AsyncSession, tenant: Tenant, entity: Entity, map_version: int
) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(CanonicalRecord)
        .join(AmsSyncRecord, same_record(AmsSyncRecord, CanonicalRecord))
        .where(*scoped(CanonicalRecord, tenant, entity), _settled(map_version))
    )
    return int(found or 0)


async def sample(
    session: AsyncSession,
    tenant: Tenant,
    table_map: TableMap,
    columns: Columns,
    size: int,
    population: int,
) -> Snapshot:
    """`size` settled records drawn at random."""
    record, synced = CanonicalRecord, AmsSyncRecord
    rows = await session.execute(
        select(
            record.source_platform,
            record.external_id,
            record.data,
            synced.airtable_record_id,
            synced.merged_into,
        )
        .join(synced, same_record(synced, record))
        .where(*scoped(record, tenant, table_map.entity), _settled(table_map.version))
        .order_by(func.random())
        .limit(size)
    )
    snapshot = Snapshot(population)
    holders: list[Holder] = []
    for platform, external_id, data, airtable_id, merged_into in rows:
        if merged_into is not None:
            holders.append(Holder(merged_into, (platform, external_id), airtable_id))
            continue
        cells = columns.expected(table_map, data)
        snapshot.expected.append(Expected((platform, external_id), airtable_id, cells))
    await _merged_rows(session, tenant, table_map, columns, holders, snapshot)
    return snapshot


async def everything(
    session: AsyncSession, tenant: Tenant, table_map: TableMap, columns: Columns
) -> Snapshot:
    """Every record: the settled ones to judge, the others only known (their rows are no extra)."""
    record, synced = CanonicalRecord, AmsSyncRecord
    rows = await session.execute(
        select(
            record.source_platform,
            record.external_id,
            record.data,
            synced.airtable_record_id,
            _settled(table_map.version),
            synced.id,
            synced.merged_into,
        )
        .outerjoin(synced, same_record(synced, record))
        .where(*scoped(record, tenant, table_map.entity))
    )
    snapshot = Snapshot(0)
    holders: list[Holder] = []
    for platform, external_id, data, airtable_id, settled, sync_id, merged_into in rows:
        key = (platform, external_id)
        if merged_into is not None and merged_into != sync_id:
            continue  # shown in the merged row its holder has
        if merged_into is not None:
            holders.append(Holder(merged_into, key, airtable_id))
            continue
        if not settled:
            snapshot.unjudged[key] = airtable_id
            continue
        snapshot.population += 1
        snapshot.expected.append(Expected(key, airtable_id, columns.expected(table_map, data)))
    await _merged_rows(session, tenant, table_map, columns, holders, snapshot, full=True)
    return snapshot


@dataclass(frozen=True)
class Holder:
    """A sync record holding a merged row."""

    sync_id: str
    key: Key
    airtable_record_id: str | None


async def _merged_rows(
    session: AsyncSession,
    tenant: Tenant,
    table_map: TableMap,
    columns: Columns,
    holders: list[Holder],
    snapshot: Snapshot,
    full: bool = False,
) -> None:
    """Merged rows are expected to hold their set's merged values; one whose set is not settled
    is not judged (full runs: known, so its row is no extra one)."""
    if not holders:
        return
    policy = await current_policy(session, tenant, table_map.entity)
    ids = [holder.sync_id for holder in holders]
    merged = await identity_rows.merged_expectations(session, tenant, table_map, policy, ids)
    for holder in holders:
        found = merged.get(holder.sync_id)
        if found is None:
            if full:
                snapshot.unjudged[holder.key] = holder.airtable_record_id
            continue
        snapshot.population += 1 if full else 0
        cells = columns.expected(table_map, found.data, found.identity_cells)
        snapshot.expected.append(Expected(holder.key, holder.airtable_record_id, cells))


async def rewritten_since(
    session: AsyncSession, tenant: Tenant, entity: Entity, since: Any, keys: list[Key]
) -> set[Key]:
    """Records the sync wrote while the audit read the base: not judged on what it read."""
    synced, moved = AmsSyncRecord, set()
    external_ids = sorted({key[1] for key in keys})
    for chunk in in_lists(external_ids, IN_CHUNK):
        found = await session.execute(
            select(synced.source_platform, synced.external_id).where(
                *scoped(synced, tenant, entity),
                synced.updated_at >= since,
                synced.external_id.in_(chunk),
            )
        )
        moved |= {(platform, external_id) for platform, external_id in found}
    return moved
