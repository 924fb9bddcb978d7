"""Archival: records deleted at their source are archived, never deleted (erasure of personal data
is app.privacy's). Archival is a canonical state kept beside the record (`archived_records`); the
AMS sync shows it by checking the row's Archived column (the row is kept, with whatever the
client added to it in Airtable).

Two ways in: the partner says a record was deleted (`archiveRecords`, `POST
/ingest/{entity}/archive`), or a full resync pass completes without it. A pass costs nothing on
the ingest path: what it saw is read back, when it completes, from the staged records of the jobs
created while it was open (quarantined ones count: the source still has them).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVarTuple, cast

import orjson
from sqlalchemy import Row, Select, Table, and_, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams.due import mark_sync_due
from app.ams.models import ArchivedRecord, ArchiveReason, FullResync, ResyncStatus
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.in_lists import in_lists
from app.db.models import CanonicalRecord, IngestJob, StagedRecord
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.jobs.models import FINAL_STATUSES
from app.mappings_override.service import mapping_for_job
from app.tenancy.models import Tenant
from app.transform.mapping import RecordMapper

MAX_ARCHIVED_PER_CALL = 1000
CHUNK = 500
Key = tuple[str, str]  # (source_platform, external_id)
FINAL = {status.value for status in FINAL_STATUSES}
Columns = TypeVarTuple("Columns")


@dataclass
class ArchiveOutcome:
    archived: int = 0  # records archived now (already archived ones are not counted again)
    errors: list[FieldError] = field(default_factory=list)


def scoped(table: Any, tenant: Tenant, entity: Entity) -> list[Any]:
    """WHERE clauses: the tenant's rows (in its mode) of this entity."""
    return [
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
    ]


async def archive_records(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: Sequence[Key]
) -> ArchiveOutcome:
    """Archive the tenant's stored records with these keys; a key with no stored record is a
    field error at its index (the others are archived all the same)."""
    if len(keys) > MAX_ARCHIVED_PER_CALL:
        raise GatewayError(
            "too_many_records",
            f"At most {MAX_ARCHIVED_PER_CALL} records per call.",
            kind="invalid_request",
        )
    stored = await _stored(session, tenant, entity, set(keys))
    outcome = ArchiveOutcome()
    for index, key in enumerate(keys):
        if key not in stored:
            outcome.errors.append(
                FieldError("not_found", "No stored record with that id.", ("records", index))
            )
    found = list(dict.fromkeys(key for key in keys if key in stored))
    outcome.archived = await _archive(
        session, tenant, entity, found, ArchiveReason.SOURCE_DELETED, None
    )
    return outcome


async def archive_source_deletion(
    session: AsyncSession, tenant: Tenant, entity: Entity, platform: str, external_id: str
) -> bool:
    """A platform's delete webhook (Shopify `products/delete`, WooCommerce `product.deleted`),
    in the transaction that records the delivery: whether a stored record was archived now."""
    outcome = await archive_records(session, tenant, entity, [(platform, external_id)])
    return outcome.archived == 1


async def _stored(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: set[Key]
) -> set[Key]:
    found: set[Key] = set()
    for chunk in in_lists(list(keys), CHUNK):
        identity = tuple_(CanonicalRecord.source_platform, CanonicalRecord.external_id)
        rows = await session.execute(
            select(CanonicalRecord.source_platform, CanonicalRecord.external_id).where(
                *scoped(CanonicalRecord, tenant, entity), identity.in_(chunk)
            )
        )
        found |= {(row[0], row[1]) for row in rows}
    return found


async def _archive(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    keys: Sequence[Key],
    reason: ArchiveReason,
    resync_id: str | None,
) -> int:
    """Insert archivals; an archived record keeps its first archival. Marks the sync due."""
    if not keys:
        return 0
    now = datetime.now(UTC)
    table = cast(Table, ArchivedRecord.__table__)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    archived = 0
    for start in range(0, len(keys), CHUNK):
        rows = [
            {
                "client_id": tenant.client_id,
                "livemode": tenant.livemode,
                "entity": entity.value,
                "source_platform": platform,
                "external_id": external_id,
                "archived_at": now,
                "reason": reason.value,
                "resync_id": resync_id,
            }
            for platform, external_id in keys[start : start + CHUNK]
        ]
        done = await session.execute(insert(table).values(rows).on_conflict_do_nothing())
        archived += max(done.rowcount, 0)  # type: ignore[attr-defined]
    await mark_sync_due(session, tenant, entity)
    return archived


async def archived_keys(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: Sequence[Key]
) -> dict[Key, datetime]:
    """Which of these records are archived now (a record pushed again with a newer
    source_updated_at is alive again), and since when."""
    found: dict[Key, datetime] = {}
    archived, record = ArchivedRecord, CanonicalRecord
    for chunk in in_lists(keys, CHUNK):
        rows = await session.execute(
            select(archived.source_platform, archived.external_id, archived.archived_at)
            .join(record, same_record(record, archived))
            .where(
                *scoped(archived, tenant, entity),
                tuple_(archived.source_platform, archived.external_id).in_(chunk),
                record.source_updated_at <= archived.archived_at,
            )
        )
        found |= {(row[0], row[1]): row[2] for row in rows}
    return found


# Reading archivals for the sync: single-table reads by index, each bounded by the archivals
# (never a join, whose plan without table statistics may read a whole table instead).


def by_key(table: Any, keys: Sequence[Key]) -> list[Any]:
    """WHERE clauses reading these keys by index, one per platform and chunk of ids (a row-value
    IN list is not planned as index probes by SQLite nor, without statistics, PostgreSQL)."""
    ids: dict[str, list[str]] = {}
    for platform, external_id in keys:
        ids.setdefault(platform, []).append(external_id)
    return [
        and_(table.source_platform == platform, table.external_id.in_(chunk))
        for platform, chosen in sorted(ids.items())
        for chunk in in_lists(chosen, CHUNK)
    ]


async def archived_after(
    session: AsyncSession, tenant: Tenant, entity: Entity, after: Key | None, size: int
) -> list[tuple[Key, datetime]]:
    """The entity's archivals in key order (its primary key's), after `after`."""
    archived = ArchivedRecord
    query = _archivals(tenant, entity)
    if after is not None:
        query = query.where(tuple_(archived.source_platform, archived.external_id) > after)
    rows = await session.execute(
        query.order_by(archived.source_platform, archived.external_id).limit(size)
    )
    return [((platform, external_id), at) for platform, external_id, at in rows]


async def archivals_of(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: Sequence[Key]
) -> dict[Key, datetime]:
    """When these records were archived (those that are)."""
    rows = await _by_keys(session, _archivals(tenant, entity), ArchivedRecord, keys)
    return {(platform, external_id): at for platform, external_id, at in rows}


async def records_of(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: Sequence[Key]
) -> dict[Key, CanonicalRecord]:
    query = select(CanonicalRecord).where(*scoped(CanonicalRecord, tenant, entity))
    rows = await _by_keys(session, query, CanonicalRecord, keys)
    return {(record.source_platform, record.external_id): record for (record,) in rows}


def _archivals(tenant: Tenant, entity: Entity) -> Select[str, str, datetime]:
    archived = ArchivedRecord
    return select(archived.source_platform, archived.external_id, archived.archived_at).where(
        *scoped(archived, tenant, entity)
    )


async def _by_keys(
    session: AsyncSession, query: Select[*Columns], table: Any, keys: Sequence[Key]
) -> list[Row[*Columns]]:
    """The query's rows of `table` with these keys, read by index (see by_key)."""
    rows: list[Row[*Columns]] = []
    for keyed in by_key(table, keys):
        rows += (await session.execute(query.where(keyed))).all()
    return rows


def archival_shown(record: CanonicalRecord, archived_at: datetime | None) -> datetime | None:
    """The archival a record's row shows: none when it was pushed again since with a newer
    source_updated_at (it is alive again)."""
    if archived_at is None or record.source_updated_at > archived_at:
        return None
    return archived_at


def same_record(one: Any, other: Any) -> Any:
    """Join condition: rows of two tables about the same record (tenant, mode, entity, key)."""
    return and_(
        one.client_id == other.client_id,
        one.livemode == other.livemode,
        one.entity == other.entity,
        one.source_platform == other.source_platform,
        one.external_id == other.external_id,
    )


# Full resync passes


def _resync_error(code: str, message: str) -> GatewayError:
    return GatewayError(code, message, kind="conflict")


async def request_full_resync(session: AsyncSession, tenant: Tenant, entity: Entity) -> FullResync:
    """Open a pass over `entity` (the open one when there is one already)."""
    found = await session.scalar(
        select(FullResync).where(
            *scoped(FullResync, tenant, entity), FullResync.status == ResyncStatus.OPEN.value
        )
    )
    if found is not None:
        return found
    resync = FullResync(
        id=new_id("rsy"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        entity=entity.value,
        status=ResyncStatus.OPEN.value,
        started_at=datetime.now(UTC),
        seen=0,
        archived=0,
    )
    session.add(resync)
    await session.flush()
    return resync


async def open_full_resync(session: AsyncSession, tenant: Tenant, entity: Entity) -> FullResync:
    found = await session.scalar(
        select(FullResync)
        .where(*scoped(FullResync, tenant, entity), FullResync.status == ResyncStatus.OPEN.value)
        .with_for_update()
    )
    if found is None:
        raise _resync_error(
            "no_open_resync", f"No full resync of {entity.value} is open: request one first."
        )
    return found


async def list_full_resyncs(
    session: AsyncSession, tenant: Tenant, entity: Entity | None, first: int
) -> list[FullResync]:
    """The latest passes, newest first."""
    query = select(FullResync).where(
        FullResync.client_id == tenant.client_id, FullResync.livemode == tenant.livemode
    )
    if entity is not None:
        query = query.where(FullResync.entity == entity.value)
    found = await session.scalars(query.order_by(FullResync.started_at.desc()).limit(first))
    return list(found)


async def complete_full_resync(session: AsyncSession, tenant: Tenant, entity: Entity) -> FullResync:
    """Archive the records of the entity no job of the open pass brought; those it brought that
    were archived are alive again. Refused while a job of the pass has not finished."""
    resync = await open_full_resync(session, tenant, entity)
    jobs = list(await session.execute(_pass_jobs(tenant, resync)))
    if any(job.status not in FINAL for job in jobs):
        raise _resync_error(
            "resync_jobs_running",
            "Jobs of this pass are still running; complete it once they have finished.",
        )
    seen: set[Key] = set()
    for job in jobs:
        seen |= await _keys_of_job(session, tenant, entity, job)
    await _revive(session, tenant, entity, seen)
    stored = await session.execute(
        select(CanonicalRecord.source_platform, CanonicalRecord.external_id).where(
            *scoped(CanonicalRecord, tenant, entity)
        )
    )
    missing = [(row[0], row[1]) for row in stored if (row[0], row[1]) not in seen]
    resync.archived = await _archive(
        session, tenant, entity, missing, ArchiveReason.NOT_SEEN, resync.id
    )
    resync.seen = len(seen)
    resync.status = ResyncStatus.COMPLETED.value
    resync.completed_at = datetime.now(UTC)
    return resync


def _pass_jobs(tenant: Tenant, resync: FullResync) -> Any:
    return select(
        IngestJob.id, IngestJob.status, IngestJob.source_platform, IngestJob.mapping_version
    ).where(
        IngestJob.client_id == tenant.client_id,
        IngestJob.livemode == tenant.livemode,
        IngestJob.entity == resync.entity,
        IngestJob.created_at >= resync.started_at,
    )


async def _keys_of_job(session: AsyncSession, tenant: Tenant, entity: Entity, job: Any) -> set[Key]:
    """The records a job brought, read from its staged inputs (raw ones mapped to find their
    keys, with the mapping the job ran with)."""
    mapper = None
    if job.source_platform is not None:
        platform = SourcePlatform(job.source_platform)
        rules, _ = await mapping_for_job(session, tenant, platform, entity, job.mapping_version)
        mapper = RecordMapper(rules)
    keys: set[Key] = set()
    rows = await session.stream(select(StagedRecord.payload).where(StagedRecord.job_id == job.id))
    async for (payload,) in rows:
        key = _key_of(payload, mapper)
        if key is not None:
            keys.add(key)
    return keys


def _key_of(payload: str, mapper: RecordMapper | None) -> Key | None:
    try:
        record = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if mapper is not None:
        record, _ = mapper.map(record)
    if not isinstance(record, dict):
        return None
    platform, external_id = record.get("source_platform"), record.get("external_id")
    if platform is None or external_id is None:
        return None
    return str(platform), str(external_id).strip()


async def _revive(session: AsyncSession, tenant: Tenant, entity: Entity, seen: set[Key]) -> None:
    """Archived records a pass saw are alive again (the sync clears their Archived column)."""
    if not seen:
        return
    keys = list(seen)
    revived = 0
    for start in range(0, len(keys), CHUNK):
        done = await session.execute(
            delete(ArchivedRecord).where(
                *scoped(ArchivedRecord, tenant, entity),
                tuple_(ArchivedRecord.source_platform, ArchivedRecord.external_id).in_(
                    keys[start : start + CHUNK]
                ),
            )
        )
        revived += max(done.rowcount, 0)  # type: ignore[attr-defined]
    if revived:
        await mark_sync_due(session, tenant, entity)
