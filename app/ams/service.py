"""Syncing a tenant's canonical records of one entity to its AMS (the Airtable base).

One sync per tenant and entity at a time, held by a lease on its `ams_sync_state` row (a row
update, never a held transaction: the sandbox writes to this same database while we wait on it).
The sync provisions the AMS first when needed, then writes the records whose mapped columns
changed — only those columns, plus the sync columns — and remembers per record the Airtable
record id and a hash per column. Each batch's outcome is committed as it lands, so a crash costs at
most the batches in flight, which the next run upserts again without duplicates.
"""

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, and_, case, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams import onboarding, rejections
from app.ams.assets import (
    AssetFile,
    AssetFiles,
    Key,
    folders_of,
    store_files,
    uploaded_event,
    with_drive,
)
from app.ams.due import backed_off
from app.ams.fieldmap import TableMap, table_maps, value_hash
from app.ams.models import AmsSyncRecord, AmsSyncState, ArchivedRecord, RecordSyncStatus
from app.ams.pacing import Pacer, make_pacer
from app.ams.rejections import AMS_REJECTED, ASSET_REJECTED, Refusal
from app.ams.writer import MAX_RECORDS_PER_REQUEST, BatchResult, Row, TableWriter
from app.assets.errors import AssetError
from app.contracts.entities import Entity
from app.db.engine import reading
from app.db.models import CanonicalRecord
from app.errors import GatewayError
from app.events.catalog import EventType
from app.events.outbox import record_event
from app.ids import new_id
from app.integrations.airtable import AirtableClient
from app.integrations.circuit import CircuitOpen
from app.integrations.routing import AmsClients, ams_for
from app.observability.pipeline import write_origins
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor
from app.provisioning import service as provisioning
from app.provisioning.models import AmsProvisioning, ProvisioningStatus
from app.settings import Settings
from app.tenancy.models import Tenant
from app.usage.metrics import Metric
from app.usage.service import add_usage

log = structlog.get_logger("gateway.ams")

PAGE = 2000  # canonical records looked at per round


@dataclass
class AmsRuntime:
    """What a process needs to run syncs: settings, the database and the per-base pacer."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    pacer: Pacer
    stopping: bool = False  # the process is shutting down: syncs stop at the next batch

    @classmethod
    def create(cls, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> "AmsRuntime":
        return cls(settings, sessions, make_pacer(settings))

    async def close(self) -> None:
        await self.pacer.close()


class LeaseLost(Exception):
    """Another worker holds this sync now; this one stops."""


class SyncStopped(Exception):
    """The process is shutting down; the sync stays due and another run finishes it."""


@dataclass
class SyncLease:
    tenant: Tenant
    entity: Entity
    owner: str
    seq: int


@dataclass
class SyncRun:
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    written: int = 0
    unchanged: int = 0
    rejected: int = 0
    deferred: int = 0  # assets whose file could not be fetched yet: their records stay changed
    requests: int = 0
    platforms: set[str] = field(default_factory=set)

    def count_request(self) -> None:
        self.requests += 1


def _now() -> datetime:
    return datetime.now(UTC)


async def run_sync(runtime: AmsRuntime, tenant: Tenant, entity: Entity) -> SyncRun | None:
    """Run the tenant's due sync of `entity`, and again while jobs keep marking it due. None when
    it is not due, another worker holds it, or it failed (the failure is recorded; the sweeper
    retries)."""
    lease = await _claim(runtime, tenant, entity)
    if lease is None:
        return None
    with structlog.contextvars.bound_contextvars(client_id=tenant.client_id, entity=entity.value):
        try:
            while True:
                run = await _sync_once(runtime, lease)
                more = await _finish(runtime, lease, run)
                log.info("ams.synced", written=run.written, rejected=run.rejected)
                if more is None:
                    return run
                lease.seq = more
        except LeaseLost:
            log.warning("ams.lease_lost")
            return None
        except SyncStopped:
            log.info("ams.sync_stopped")
            return None
        except Exception as error:
            if isinstance(_cause(error), GatewayError | OSError):  # AMS refused or unreachable
                log.warning("ams.sync_failed", error=str(_cause(error)))
            else:
                log.exception("ams.sync_failed")
            await _record_failure(runtime, lease, error)
            return None
        finally:
            await _release(runtime, lease)


def _state_of(tenant: Tenant, entity: Entity) -> Any:
    return and_(
        AmsSyncState.client_id == tenant.client_id,
        AmsSyncState.livemode == tenant.livemode,
        AmsSyncState.entity == entity.value,
    )


async def _claim(runtime: AmsRuntime, tenant: Tenant, entity: Entity) -> SyncLease | None:
    owner, now = new_id("lease"), _now()
    async with runtime.sessions() as session, session.begin():
        claimed = await session.execute(
            update(AmsSyncState)
            .where(
                _state_of(tenant, entity),
                AmsSyncState.due_seq > AmsSyncState.done_seq,
                or_(AmsSyncState.lease_until.is_(None), AmsSyncState.lease_until < now),
                backed_off(now),
            )
            .values(lease_owner=owner, lease_until=now + _lease(runtime))
            .returning(AmsSyncState.due_seq)
        )
        seq = claimed.scalar()
    return None if seq is None else SyncLease(tenant, entity, owner, seq)


def _lease(runtime: AmsRuntime) -> timedelta:
    return timedelta(seconds=runtime.settings.ams_sync_lease_seconds)


async def _renew(session: AsyncSession, runtime: AmsRuntime, lease: SyncLease) -> None:
    renewed = await session.execute(
        update(AmsSyncState)
        .where(_state_of(lease.tenant, lease.entity), AmsSyncState.lease_owner == lease.owner)
        .values(lease_until=_now() + _lease(runtime))
    )
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()


async def _release(runtime: AmsRuntime, lease: SyncLease) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(AmsSyncState)
            .where(_state_of(lease.tenant, lease.entity), AmsSyncState.lease_owner == lease.owner)
            .values(lease_owner=None, lease_until=None)
        )


async def _finish(runtime: AmsRuntime, lease: SyncLease, run: SyncRun) -> int | None:
    """Record the sync; the newer due_seq when jobs marked it due meanwhile."""
    async with runtime.sessions() as session, session.begin():
        state = await session.scalar(
            select(AmsSyncState).where(_state_of(lease.tenant, lease.entity)).with_for_update()
        )
        if state is None or state.lease_owner != lease.owner:
            raise LeaseLost()
        total = await _canonical_count(session, lease.tenant, lease.entity)
        run.unchanged = max(0, total - run.written - run.rejected - run.deferred)
        finished = _now().isoformat()
        if run.deferred:  # stays due: the sweeper runs it again after the redispatch delay
            state.dispatched_at = _now()
        else:
            state.done_seq = max(state.done_seq, lease.seq)
        state.last_synced_at = _now()
        state.written, state.unchanged, state.rejected = run.written, run.unchanged, run.rejected
        state.requests = run.requests
        state.platforms = dict(state.platforms) | dict.fromkeys(run.platforms, finished)
        state.error = _deferred_error(run.deferred) if run.deferred else None
        state.failures, state.retry_at = 0, None
        state.updated_at = _now()
        threshold = runtime.settings.onboarding_max_quarantine_rate
        await onboarding.sync_finished(session, lease.tenant, run.started_at, threshold)
        return state.due_seq if state.due_seq > lease.seq else None


def _deferred_error(count: int) -> str:
    return f"{count} asset file(s) could not be fetched for now; they will be retried."


def _cause(error: Exception) -> Exception:
    """The first gateway error inside a task group's exception group, else the error itself."""
    if isinstance(error, ExceptionGroup):
        found = error.subgroup(lambda e: isinstance(e, GatewayError))
        while isinstance(found, ExceptionGroup):
            found = found.exceptions[0]
        return found if isinstance(found, Exception) else error
    return error


MAX_BACKOFF_STEPS = 6  # the longest wait is 2**6 redispatch delays (about 32 min by default)


def _backoff(runtime: AmsRuntime, failures: int) -> timedelta:
    """Exponential in the failures in a row, capped, with jitter so many tenants failing at once
    (an Airtable outage) do not all retry together. The sync is retried for as long as it
    fails: its records are never given up on."""
    base = runtime.settings.ams_sync_redispatch_after_seconds
    steps = min(max(failures - 1, 0), MAX_BACKOFF_STEPS)
    return timedelta(seconds=base * 2**steps * random.uniform(1.0, 1.2))


async def _record_failure(runtime: AmsRuntime, lease: SyncLease, error: Exception) -> None:
    cause = _cause(error)
    reason = cause.message if isinstance(cause, GatewayError) else type(cause).__name__
    paused = isinstance(cause, CircuitOpen)  # transient: the records stay due, nothing failed
    async with runtime.sessions() as session, session.begin():
        state = await session.scalar(
            select(AmsSyncState)
            .where(_state_of(lease.tenant, lease.entity), AmsSyncState.lease_owner == lease.owner)
            .with_for_update()
        )
        if state is None:
            return
        failures = state.failures if paused else state.failures + 1
        retry_at = _now() + _backoff(runtime, max(failures, 1))
        when = retry_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        if paused:
            message = f"The AMS sync is paused ({reason}); it resumes by itself (at {when})."
        else:
            message = (
                f"The AMS sync failed ({reason}); failed {failures} time(s) in a row, "
                f"next try at {when}."
            )
        state.error, state.failures, state.retry_at = message, failures, retry_at
        state.dispatched_at = state.updated_at = _now()


async def _canonical_count(session: AsyncSession, tenant: Tenant, entity: Entity) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(CanonicalRecord)
        .where(
            CanonicalRecord.client_id == tenant.client_id,
            CanonicalRecord.livemode == tenant.livemode,
            CanonicalRecord.entity == entity.value,
        )
    )
    return int(found or 0)


async def ensure_provisioned(runtime: AmsRuntime, tenant: Tenant) -> AmsProvisioning:
    found = await provisioning.find_provisioning(runtime, tenant)
    if found is not None and found.status == ProvisioningStatus.PROVISIONED.value:
        return found
    log.info("ams.provisioning")
    return await provisioning.provision(runtime, tenant)


@dataclass
class _Target:
    """Where one sync writes."""

    runtime: AmsRuntime
    lease: SyncLease
    run: SyncRun
    table_map: TableMap
    airtable: AirtableClient
    base_id: str
    table_id: str
    ams: AmsClients
    asset_folders: dict[str, str]
    uploads: dict[Key, tuple[CanonicalRecord, AssetFile]] = field(default_factory=dict)
    jobs: dict[Key, str] = field(default_factory=dict)  # changed content: its job (observability)
    sending: dict[Key, CanonicalRecord] = field(default_factory=dict)  # rows in flight
    was_rejected: set[Key] = field(default_factory=set)  # open quarantine entries to resolve


async def _sync_once(runtime: AmsRuntime, lease: SyncLease) -> SyncRun:
    row = await ensure_provisioned(runtime, lease.tenant)
    await onboarding.sync_started(runtime, lease.tenant)
    run = SyncRun()
    table_map = table_maps(runtime.settings.contracts_dir)[lease.entity]
    config = row.config or {}
    tables: dict[str, str] = config.get("server", {}).get("airtable", {}).get("tables", {})
    ams = ams_for(lease.tenant, runtime.settings)
    target = _Target(
        runtime,
        lease,
        run,
        table_map,
        ams.airtable,
        str(row.base_id),
        tables.get(table_map.table, table_map.table),
        ams,
        folders_of(config),
    )
    # Audience: unsubscribes go out before any other change (consent wins; see records.conflicts).
    for unsubscribes in (True, False) if lease.entity is Entity.AUDIENCE else (False,):
        after = ""
        while page := await _changed_page(runtime, lease, table_map.version, after, unsubscribes):
            await _sync_page(target, page)
            if runtime.stopping:
                raise SyncStopped()
            after = page[-1][0].id
    await _sync_archival(target)
    return run


Candidate = tuple[CanonicalRecord, AmsSyncRecord | None]


async def _changed_page(
    runtime: AmsRuntime, lease: SyncLease, map_version: int, after: str, unsubscribes: bool
) -> list[Candidate]:
    """Canonical records never handled, or whose content (or the field map) changed since;
    with `unsubscribes`, only those whose email consent is `unsubscribed`."""
    record, synced = CanonicalRecord, AmsSyncRecord
    consent = record.data["email_consent"].as_string() == "unsubscribed"
    joined = and_(
        synced.client_id == record.client_id,
        synced.livemode == record.livemode,
        synced.entity == record.entity,
        synced.source_platform == record.source_platform,
        synced.external_id == record.external_id,
    )
    async with reading(runtime.sessions) as session:
        found = await session.execute(
            select(record, synced)
            .outerjoin(synced, joined)
            .where(
                record.client_id == lease.tenant.client_id,
                record.livemode == lease.tenant.livemode,
                record.entity == lease.entity.value,
                record.id > after,
                consent if unsubscribes else true(),
                or_(
                    synced.id.is_(None),
                    synced.content_hash != record.content_hash,
                    synced.map_version != map_version,
                ),
            )
            .order_by(record.id)
            .limit(PAGE)
        )
        return [(row[0], row[1]) for row in found.tuples()]


async def _sync_page(target: _Target, page: list[Candidate]) -> None:
    now = _now()
    synced_at = now.isoformat().replace("+00:00", "Z")
    files = await _asset_files(target, page)
    unchanged: list[dict[str, Any]] = []  # with the records whose asset file was refused
    refusals: list[Refusal] = []
    outgoing: list[tuple[Row, dict[str, Any]]] = []
    for record, synced in page:
        target.run.platforms.add(record.source_platform)
        state = _record_row(target, record, synced, now)
        key = (record.source_platform, record.external_id)
        if synced is not None and synced.status == RecordSyncStatus.REJECTED.value:
            target.was_rejected.add(key)
        if files is not None and key in files.deferred:
            target.run.deferred += 1
            continue
        if files is not None and key in files.refused:
            unchanged.append(_refused(target, key, state, files.refused[key]))
            refusals.append(_asset_refusal(record, files.refused[key]))
            continue
        cells = target.table_map.content(_with_file(target, record, files))
        hashes = {column: value_hash(value) for column, value in cells.items()}
        changed = _changed(cells, hashes, synced)
        if not changed:
            unchanged.append(state | {"status": RecordSyncStatus.SYNCED.value})
            continue
        sync_cells = target.table_map.sync_values(record.data, synced_at)
        typecast = target.table_map.typecast(changed)
        row = Row((record.source_platform, record.external_id), changed | sync_cells, typecast)
        outgoing.append((row, state | {"field_hashes": hashes}))
        target.sending[row.key] = record
        if synced is None or synced.content_hash != record.content_hash:
            target.jobs[row.key] = record.last_job_id
    if unchanged:
        async with target.runtime.sessions() as session, session.begin():
            await _save_records(session, unchanged)
            tenant = target.lease.tenant
            await rejections.hold(session, tenant, target.table_map, refusals)
            await rejections.resolve(
                session, tenant, target.lease.entity, _taken(target, unchanged)
            )
            keys = [(r["source_platform"], r["external_id"]) for r in unchanged]
            await _announce_uploads(session, target, keys, now)
            await _renew(session, target.runtime, target.lease)
    await _write_all(target, outgoing)


# Archival: the row's Archived column follows the record's archived state (app.ams.archival)

Archival = tuple[AmsSyncRecord, CanonicalRecord, datetime | None]  # the archival to show


async def _sync_archival(target: _Target) -> None:
    """Check the Archived column of rows whose record is archived, clear it on those alive again."""
    column = target.table_map.archive_field
    if column is None:
        return
    after = ""
    while page := await _archival_page(target, after):
        await _write_archival(target, column, page)
        if target.runtime.stopping:
            raise SyncStopped()
        after = page[-1][0].id


def _same_record(table: Any, synced: Any) -> Any:
    return and_(
        table.client_id == synced.client_id,
        table.livemode == synced.livemode,
        table.entity == synced.entity,
        table.source_platform == synced.source_platform,
        table.external_id == synced.external_id,
    )


async def _archival_page(target: _Target, after: str) -> list[Archival]:
    synced, record, archived = AmsSyncRecord, CanonicalRecord, ArchivedRecord
    tenant = target.lease.tenant
    # Archived, unless pushed again since with a newer source_updated_at.
    holds = and_(
        archived.archived_at.is_not(None), record.source_updated_at <= archived.archived_at
    )
    shown = synced.archived_at.is_not(None)
    async with reading(target.runtime.sessions) as session:
        found = await session.execute(
            select(synced, record, case((holds, archived.archived_at), else_=None))
            .join(record, _same_record(record, synced))
            .outerjoin(archived, _same_record(archived, synced))
            .where(
                synced.client_id == tenant.client_id,
                synced.livemode == tenant.livemode,
                synced.entity == target.lease.entity.value,
                synced.id > after,
                synced.airtable_record_id.is_not(None),
                or_(
                    and_(holds, or_(~shown, synced.archived_at != archived.archived_at)),
                    and_(~holds, shown),
                ),
            )
            .order_by(synced.id)
            .limit(PAGE)
        )
        return [(row[0], row[1], row[2]) for row in found.tuples()]


async def _write_archival(target: _Target, column: str, page: list[Archival]) -> None:
    synced_at = _now().isoformat().replace("+00:00", "Z")
    writer = _writer(target)
    shows = {(s.source_platform, s.external_id): (s, r, when) for s, r, when in page}
    rows = [
        Row(
            key,
            {column: True if when else None} | target.table_map.sync_values(r.data, synced_at),
            False,
        )
        for key, (_, r, when) in shows.items()
    ]
    for start in range(0, len(rows), MAX_RECORDS_PER_REQUEST):
        batch = rows[start : start + MAX_RECORDS_PER_REQUEST]
        result = await writer.write(batch)
        refusals = [
            Refusal(shows[r.key][1], AMS_REJECTED, r.error_type, r.message) for r in result.rejected
        ]
        target.run.written += len(result.written)
        target.run.rejected += len(refusals)
        async with target.runtime.sessions() as session, session.begin():
            for key in result.written:
                synced, _, when = shows[key]
                await session.execute(
                    update(AmsSyncRecord)
                    .where(AmsSyncRecord.id == synced.id)
                    .values(archived_at=when, updated_at=_now())
                )
            tenant = target.lease.tenant
            await rejections.hold(session, tenant, target.table_map, refusals)
            if result.written:
                await add_usage(session, tenant, {Metric.AMS_WRITES: len(result.written)})
            await _renew(session, target.runtime, target.lease)


async def _asset_files(target: _Target, page: list[Candidate]) -> AssetFiles | None:
    """For assets, their files stored in Drive before their rows are written."""
    if target.lease.entity is not Entity.ASSET:
        return None
    runtime, lease = target.runtime, target.lease

    async def renew() -> None:
        async with runtime.sessions() as session, session.begin():
            await _renew(session, runtime, lease)

    return await store_files(
        runtime,
        lease.tenant,
        target.ams,
        target.asset_folders,
        [record for record, _ in page],
        concurrency=runtime.settings.ams_write_concurrency,
        renew=renew,
    )


def _with_file(
    target: _Target, record: CanonicalRecord, files: AssetFiles | None
) -> dict[str, Any]:
    """The data the field map reads: an asset's includes its stored Drive file."""
    if files is None:
        return record.data
    key = (record.source_platform, record.external_id)
    file = files.stored[key]
    if file.stored.uploaded:
        target.uploads[key] = (record, file)
    return with_drive(record.data, file)


def _taken(target: _Target, rows: list[dict[str, Any]]) -> list[Key]:
    """Records the AMS holds now that it had refused: their quarantine entries resolve."""
    keys = [
        (row["source_platform"], row["external_id"])
        for row in rows
        if row["status"] == RecordSyncStatus.SYNCED.value
    ]
    return [key for key in keys if key in target.was_rejected]


def _asset_refusal(record: CanonicalRecord, error: AssetError) -> Refusal:
    return Refusal(record, ASSET_REJECTED, error.code, error.message)


def _refused(target: _Target, key: Key, state: dict[str, Any], error: AssetError) -> dict[str, Any]:
    target.run.rejected += 1
    log.warning("ams.record_rejected", external_id=key[1], error_type=error.code)
    return _rejected(state, error.code, error.message)


def _rejected(state: dict[str, Any], error_type: str, message: str) -> dict[str, Any]:
    return state | {
        "field_hashes": {},
        "status": RecordSyncStatus.REJECTED.value,
        "error_type": error_type,
        "error_message": message,
    }


def _changed(
    cells: dict[str, Any], hashes: dict[str, str], synced: AmsSyncRecord | None
) -> dict[str, Any]:
    """The columns to send: all non-empty ones for a record Airtable does not have yet, else
    those whose value differs from what was last written (an emptied column is sent as null)."""
    written = synced.field_hashes if synced and synced.airtable_record_id else {}
    if not written:
        return {column: value for column, value in cells.items() if value is not None}
    empty = value_hash(None)
    return {c: v for c, v in cells.items() if hashes[c] != written.get(c, empty)}


def _record_row(
    target: _Target, record: CanonicalRecord, synced: AmsSyncRecord | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": synced.id if synced else new_id("amsrec"),
        "client_id": record.client_id,
        "livemode": record.livemode,
        "entity": record.entity,
        "source_platform": record.source_platform,
        "external_id": record.external_id,
        "airtable_record_id": synced.airtable_record_id if synced else None,
        "content_hash": record.content_hash,
        "map_version": target.table_map.version,
        "field_hashes": dict(synced.field_hashes) if synced else {},
        "status": RecordSyncStatus.SYNCED.value,
        "error_type": None,
        "error_message": None,
        "synced_at": synced.synced_at if synced else None,
        "updated_at": now,
    }


def _writer(target: _Target) -> TableWriter:
    return TableWriter(
        target.airtable,
        target.base_id,
        target.table_id,
        target.table_map.merge_on,
        target.runtime.pacer,
        target.runtime.settings,
        target.run.count_request,
    )


async def _write_all(target: _Target, outgoing: list[tuple[Row, dict[str, Any]]]) -> None:
    """Batches of 10 with the same typecast, a few in flight (the pacer spaces them)."""
    if not outgoing:
        return
    writer = _writer(target)
    gate = asyncio.Semaphore(target.runtime.settings.ams_write_concurrency)
    batches = [
        group[start : start + MAX_RECORDS_PER_REQUEST]
        for group in (
            [o for o in outgoing if o[0].typecast],
            [o for o in outgoing if not o[0].typecast],
        )
        for start in range(0, len(group), MAX_RECORDS_PER_REQUEST)
    ]

    async def write(batch: Sequence[tuple[Row, dict[str, Any]]]) -> None:
        async with gate:
            if target.runtime.stopping:  # batches not sent stay changed: the next run sends them
                return
            result = await writer.write([row for row, _ in batch])
            await _save_batch(target, batch, result)

    async with asyncio.TaskGroup() as group:
        for batch in batches:
            group.create_task(write(batch))


async def _save_batch(
    target: _Target, batch: Sequence[tuple[Row, dict[str, Any]]], result: BatchResult
) -> None:
    now = _now()
    refused = {r.key: r for r in result.rejected}
    rows, refusals = [], []
    records = {row.key: target.sending.pop(row.key) for row, _ in batch}
    for row, state in batch:
        if row.key in result.written:
            target.run.written += 1
            rows.append(state | {"airtable_record_id": result.written[row.key], "synced_at": now})
            continue
        rejection = refused[row.key]
        target.run.rejected += 1
        log.warning("ams.record_rejected", external_id=row.key[1], error_type=rejection.error_type)
        rows.append(_rejected(state, rejection.error_type, rejection.message))
        refusal = Refusal(records[row.key], AMS_REJECTED, rejection.error_type, rejection.message)
        refusals.append(refusal)
    written = [row.key for row, _ in batch if row.key in result.written]
    jobs = [target.jobs.pop(key) for key in written if key in target.jobs]
    async with target.runtime.sessions() as session, session.begin():
        tenant, entity = target.lease.tenant, target.lease.entity.value
        origins = await write_origins(session, tenant, entity, jobs)
        await _save_records(session, rows)
        await rejections.hold(session, tenant, target.table_map, refusals)
        await rejections.resolve(session, tenant, target.lease.entity, _taken(target, rows))
        with origins.traced():
            await _announce_written(session, target, written, now)
            await _announce_uploads(session, target, [row.key for row, _ in batch], now)
        await _renew(session, target.runtime, target.lease)
    origins.observe()


async def _announce_written(
    session: AsyncSession, target: _Target, written: list[tuple[str, str]], now: datetime
) -> None:
    """Usage (AMS writes) and, for products, one `product.synced` event per source platform, in
    the transaction that records the writes."""
    if not written:
        return
    tenant = target.lease.tenant
    await add_usage(session, tenant, {Metric.AMS_WRITES: len(written)})
    if target.lease.entity is not Entity.PRODUCT:
        return
    by_platform: dict[str, list[str]] = {}
    for platform, external_id in written:
        by_platform.setdefault(platform, []).append(external_id)
    for platform, external_ids in sorted(by_platform.items()):
        data = {
            "external_ids": external_ids,
            "source_platform": platform,
            "base_id": target.base_id,
            "job_id": None,
            "synced_at": now,
        }
        record_event(session, tenant, EventType.PRODUCT_SYNCED, data)


async def _announce_uploads(
    session: AsyncSession, target: _Target, keys: list[Key], now: datetime
) -> None:
    """One `asset.uploaded` per asset whose file was created or given new bytes, and the bytes
    metered (drive.bytes_stored), in the transaction that records its row (written, or refused
    by Airtable: the file is in Drive)."""
    stored = 0
    for key in keys:
        upload = target.uploads.pop(key, None)
        if upload is None:
            continue
        record, file = upload
        kind = str(record.data.get("kind"))
        data = uploaded_event(key, kind, file, record.last_job_id, now)
        record_event(session, target.lease.tenant, EventType.ASSET_UPLOADED, data)
        stored += file.stored.size
    if stored:
        await add_usage(session, target.lease.tenant, {Metric.DRIVE_BYTES_STORED: stored})


async def _save_records(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert sync records. A rejected record keeps the hashes of what was last written."""
    table = cast(Table, AmsSyncRecord.__table__)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    new = statement.excluded
    rejected = new.status == RecordSyncStatus.REJECTED.value
    columns = [
        "airtable_record_id",
        "content_hash",
        "map_version",
        "status",
        "error_type",
        "error_message",
        "synced_at",
        "updated_at",
    ]
    values: dict[str, Any] = {name: new[name] for name in columns}
    values["field_hashes"] = case((rejected, table.c.field_hashes), else_=new.field_hashes)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["client_id", "livemode", "entity", "source_platform", "external_id"],
            set_=values,
        ),
        rows,
    )


# Reading sync state (GraphQL)


async def sync_states(session: AsyncSession, tenant: Tenant) -> list[AmsSyncState]:
    found = await session.scalars(
        select(AmsSyncState)
        .where(
            AmsSyncState.client_id == tenant.client_id,
            AmsSyncState.livemode == tenant.livemode,
        )
        .order_by(AmsSyncState.entity)
    )
    return list(found)


async def list_record_syncs(
    session: AsyncSession,
    tenant: Tenant,
    status: RecordSyncStatus | None,
    entity: Entity | None,
    first: int,
    after: str | None,
) -> Page[AmsSyncRecord]:
    check_page_size(first)
    table = AmsSyncRecord
    query = select(table).where(
        table.client_id == tenant.client_id, table.livemode == tenant.livemode
    )
    if status is not None:
        query = query.where(table.status == status.value)
    if entity is not None:
        query = query.where(table.entity == entity.value)
    if after is not None:
        query = query.where(table.id > decode_cursor(after))
    found = list(await session.scalars(query.order_by(table.id).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(page[-1].id) if page else None, len(found) > first)
