"""Syncing a tenant's canonical records of one entity to its AMS (the Airtable base).

One sync per tenant and entity at a time, held by a lease on its `ams_sync_state` row (a row
update, never a held transaction: the sandbox writes to this same database while we wait on it).
The sync provisions the AMS first when needed, then writes the records whose mapped columns
changed — only those columns, plus the sync columns — and remembers per record the Airtable
record id and a hash per column. Each batch's outcome is committed as it lands, so a crash costs at
most the batches in flight, which the next run upserts again without duplicates.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, and_, case, func, or_, select, text, true, tuple_, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams import archival, identity_rows, onboarding, rejections, retries
from app.ams.assets import (
    AssetFile,
    AssetFiles,
    Key,
    folders_of,
    store_files,
    uploaded_event,
    with_drive,
)
from app.ams.deletion import AmsTable, RowDeleter
from app.ams.due import HANDLED, backed_off, key_parameters, mark_pending
from app.ams.fieldmap import TableMap, table_maps, value_hash
from app.ams.models import AmsSyncRecord, AmsSyncState, ArchivedRecord, RecordSyncStatus
from app.ams.pacing import Pacer, make_pacer
from app.ams.rejections import AMS_EXHAUSTED, AMS_REJECTED, ASSET_REJECTED, Refusal
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
from app.provisioning.upgrade import upgrade_base
from app.records.policies import Policy, current_policy
from app.records.resolutions import Resolution, record_resolutions
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
                await _refresh_statistics(runtime, run)
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


ANALYZE_AFTER_WRITES = 5000  # a bulk import's first sync


async def _refresh_statistics(runtime: AmsRuntime, run: SyncRun) -> None:
    """After a sync that wrote a bulk import, PostgreSQL's planner statistics of the catalogue
    tables are refreshed (ANALYZE samples a bounded number of rows), so later passes and audits
    are not planned as if the tables were still empty (autovacuum may be off, or lag)."""
    if run.written < ANALYZE_AFTER_WRITES:
        return
    async with runtime.sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("ANALYZE canonical_records, ams_sync_records"))


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
        finished = _now().isoformat()
        if run.deferred:  # stays due: the sweeper runs it again after the redispatch delay
            state.dispatched_at = _now()
        else:
            state.done_seq = max(state.done_seq, lease.seq)
        state.last_synced_at = _now()
        state.written, state.rejected = run.written, run.rejected
        state.requests = run.requests
        state.platforms = dict(state.platforms) | dict.fromkeys(run.platforms, finished)
        state.error = _deferred_error(run.deferred) if run.deferred else None
        state.failures, state.retry_at = 0, None
        state.updated_at = _now()
        threshold = runtime.settings.onboarding_max_quarantine_rate
        await onboarding.sync_finished(session, lease.tenant, run.started_at, threshold)
        return state.due_seq if state.due_seq > lease.seq else None


def _deferred_error(count: int) -> str:
    return (
        f"{count} record(s) could not be written for now (an asset file not fetched, or a "
        "transient AMS failure); they will be retried."
    )


def _cause(error: Exception) -> Exception:
    """The first gateway error inside a task group's exception group, else the error itself."""
    if isinstance(error, ExceptionGroup):
        found = error.subgroup(lambda e: isinstance(e, GatewayError))
        while isinstance(found, ExceptionGroup):
            found = found.exceptions[0]
        return found if isinstance(found, Exception) else error
    return error


def _backoff(runtime: AmsRuntime, failures: int) -> timedelta:
    """The sync's backoff after failures in a row (the records' own: app.ams.retries). A sync
    that fails as a whole (a missing base, a refused token) is retried for as long as it fails;
    records are given up on only one by one, for transient failures of their own writes."""
    return retries.backoff(runtime.settings.ams_sync_redispatch_after_seconds, failures)


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


async def ensure_provisioned(runtime: AmsRuntime, tenant: Tenant) -> AmsProvisioning:
    found = await provisioning.find_provisioning(runtime, tenant)
    if found is not None and found.status == ProvisioningStatus.PROVISIONED.value:
        return await upgrade_base(runtime, tenant, found)  # made from an older template
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
    was_rejected: set[Key] = field(default_factory=set)  # held entries or attempts to settle
    policy: Policy | None = None  # the conflict policy linked records are merged with
    placed: dict[Key, identity_rows.Placement] = field(default_factory=dict)  # merged, in flight
    identity_columns: set[str] | None = None  # those the base has (an older base may lack them)


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
    await _pend_remapped(runtime, lease, table_map.version)
    # Audience: unsubscribes go out before any other change (consent wins; see records.conflicts).
    for unsubscribes in (True, False) if lease.entity is Entity.AUDIENCE else (False,):
        after = ""
        while page := await _changed_page(runtime, lease, after, unsubscribes):
            after = page[-1][0].id
            if changed := await _settle_unchanged(runtime, lease, table_map.version, page):
                await _sync_page(target, changed)
            if runtime.stopping:
                raise SyncStopped()
    await _sync_regrouped(target)
    if await _archival_shown(runtime, lease):
        await _sync_archival(target)
    return run


Candidate = tuple[CanonicalRecord, AmsSyncRecord | None]


# Change selection: a canonical record is `sync_pending` from its content write until a sync
# handled that content (its bookkeeping saved: written, unchanged, rejected or exhausted), so a
# pass reads the changed records through a partial index, never the whole catalogue. Whatever
# resets the bookkeeping marks the records pending again (app.ams.due.mark_pending); records
# handled with another field map (a new map, or a reconciliation repair) are marked at the start
# of each pass. The marker is a state, not a position: a write that commits late is found all
# the same, and a record left unwritten (deferred, failed, the process stopping) stays pending.


async def _pend_remapped(runtime: AmsRuntime, lease: SyncLease, map_version: int) -> None:
    synced, tenant = AmsSyncRecord, lease.tenant
    of_entity = (
        synced.client_id == tenant.client_id,
        synced.livemode == tenant.livemode,
        synced.entity == lease.entity.value,
    )
    # The lowest and highest version first: two index probes whatever the planner's statistics
    # (selecting `!=` directly, or min() and max(), may read every row of the entity).
    version = select(synced.map_version).where(*of_entity).limit(1)
    lowest = version.order_by(synced.map_version).scalar_subquery()
    highest = version.order_by(synced.map_version.desc()).scalar_subquery()
    keyed = select(synced.source_platform, synced.external_id).where(*of_entity)
    async with reading(runtime.sessions) as session:
        low, high = (await session.execute(select(lowest, highest))).one()
        if low is None or low == high == map_version:
            return
        remapped = union_all(
            keyed.where(synced.map_version < map_version),
            keyed.where(synced.map_version > map_version),
        )
        keys = [(row[0], row[1]) for row in (await session.execute(remapped))]
    if keys:
        async with runtime.sessions() as session, session.begin():
            await mark_pending(session, tenant, lease.entity, keys)
            await _renew(session, runtime, lease)


async def _settle_unchanged(
    runtime: AmsRuntime, lease: SyncLease, map_version: int, page: list[Candidate]
) -> list[Candidate]:
    """The page's records whose content (or field map) differs from what was handled; the others
    (e.g. changed and changed back before a sync) are no longer pending."""
    changed: list[Candidate] = []
    settled: list[dict[str, Any]] = []
    for record, synced in page:
        if (
            synced is None
            or synced.content_hash != record.content_hash
            or synced.map_version != map_version
        ):
            changed.append((record, synced))
            continue
        settled.append(_handled(*(getattr(record, name) for name in _HANDLED_BY)))
    if settled:
        async with runtime.sessions() as session, session.begin():
            await session.execute(HANDLED, settled)
            await _renew(session, runtime, lease)
    return changed


async def _changed_page(
    runtime: AmsRuntime, lease: SyncLease, after: str, unsubscribes: bool
) -> list[Candidate]:
    """Canonical records pending (new, or changed since the sync handled them), with their
    bookkeeping; with `unsubscribes`, only those whose email consent is `unsubscribed`."""
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
                record.sync_pending,
                record.id > after,
                consent if unsubscribes else true(),
            )
            .order_by(record.id)
            .limit(PAGE)
        )
        return [(row[0], row[1]) for row in found]


async def _archival_shown(runtime: AmsRuntime, lease: SyncLease) -> bool:
    """Whether a record of the tenant's entity is archived or a row shows an archival: without
    either there is nothing to check (two index probes instead of a pass over every row)."""
    tenant, entity = lease.tenant, lease.entity.value
    archived, synced = ArchivedRecord, AmsSyncRecord
    async with reading(runtime.sessions) as session:
        for probe in (
            select(archived.external_id).where(
                archived.client_id == tenant.client_id,
                archived.livemode == tenant.livemode,
                archived.entity == entity,
            ),
            select(synced.id).where(
                synced.client_id == tenant.client_id,
                synced.livemode == tenant.livemode,
                synced.entity == entity,
                synced.archived_at.is_not(None),
            ),
        ):
            if await session.scalar(probe.limit(1)) is not None:
                return True
    return False


async def _sync_page(target: _Target, page: list[Candidate]) -> None:
    now = _now()
    synced_at = now.isoformat().replace("+00:00", "Z")
    page, tried = await _attempted_now(target, page, now)
    page, placements = await _planned(target, page)
    files = await _asset_files(target, page)
    unchanged: list[dict[str, Any]] = []  # with the records whose asset file was refused
    refusals: list[Refusal] = []
    outgoing: list[tuple[Row, dict[str, Any]]] = []
    unfetched: dict[retries.Failure, list[tuple[CanonicalRecord, dict[str, Any]]]] = {}
    for record, synced in page:
        target.run.platforms.add(record.source_platform)
        state = _record_row(target, record, synced, now)
        key = (record.source_platform, record.external_id)
        if synced is not None and synced.status in _HELD:
            target.was_rejected.add(key)
        if files is not None and key in files.deferred:
            failure = retries.asset_failure(files.deferred[key])
            unfetched.setdefault(failure, []).append((record, state))
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
    placed_unchanged, placed_outgoing = await _place(target, placements, now, synced_at)
    unchanged += placed_unchanged
    outgoing += placed_outgoing
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
    for failure, failed in unfetched.items():
        await _hold_back(target, failed, failure)
    await _write_all(target, [o for o in outgoing if o[0].key not in tried])
    await _write_again(target, [o for o in outgoing if o[0].key in tried], tried)


# Transient failures of single records (app.ams.retries)

_HELD = (RecordSyncStatus.REJECTED.value, RecordSyncStatus.EXHAUSTED.value)


async def _attempted_now(
    target: _Target, page: list[Candidate], now: datetime
) -> tuple[list[Candidate], dict[Key, int]]:
    """The page without the records waiting out the backoff of a failed attempt (they keep the
    sync due), and the failed attempts of the same content of those tried again (settled when
    they are written)."""
    tenant, entity = target.lease.tenant, target.lease.entity.value
    keys = [(record.source_platform, record.external_id) for record, _ in page]
    async with reading(target.runtime.sessions) as session:
        failed = await retries.pending(session, tenant, entity, keys)
    if not failed:
        return page, {}
    chosen, tried = [], {}
    for record, synced in page:
        key = (record.source_platform, record.external_id)
        retry = failed.get(key)
        if retries.waiting(retry, record, now):
            target.run.deferred += 1
            continue
        if retry is not None:
            target.was_rejected.add(key)
            if retry.content_hash == record.content_hash:
                tried[key] = retry.attempts
        chosen.append((record, synced))
    return chosen, tried


async def _write_again(
    target: _Target, outgoing: list[tuple[Row, dict[str, Any]]], tried: dict[Key, int]
) -> None:
    """Records that failed before go in smaller batches, halved with each failed attempt, so a
    record that keeps failing ends up alone and its former batch mates are written."""
    sizes: dict[int, list[tuple[Row, dict[str, Any]]]] = {}
    for item in outgoing:
        size = max(1, MAX_RECORDS_PER_REQUEST >> tried[item[0].key])
        sizes.setdefault(size, []).append(item)
    for size, items in sorted(sizes.items(), reverse=True):
        await _write_all(target, items, size)


async def _failed_batch(
    target: _Target, batch: Sequence[tuple[Row, dict[str, Any]]], error: Exception
) -> None:
    """A batch whose write failed: a transient failure counts an attempt for each of its records
    and the other batches go on; anything else (and an open circuit, once counted) stops the
    sync, its records still due."""
    failure = retries.failure_of(error)
    if failure is None:
        raise error
    failed = [(target.sending.pop(row.key), state) for row, state in batch]
    placed = [target.placed.pop(row.key) for row, _ in batch if row.key in target.placed]
    for row, _ in batch:
        target.jobs.pop(row.key, None)
    await _hold_back(target, failed, failure, placed)
    if isinstance(error, CircuitOpen):  # the base is down: the batches not sent wait for it
        raise error


async def _hold_back(
    target: _Target,
    failed: Sequence[tuple[CanonicalRecord, dict[str, Any]]],
    failure: retries.Failure,
    placed: Sequence[identity_rows.Placement] = (),
) -> None:
    """One more failed attempt for each record: those whose attempts ran out are quarantined
    EXHAUSTED and left alone until they change or are replayed; the others stay due and are
    attempted again after their backoff. A merged row's other members share its attempts and
    its fate: counted with it, EXHAUSTED with it (the holder's record holds the quarantine
    entry, as for a refusal)."""
    tenant, now = target.lease.tenant, _now()
    settings = target.runtime.settings
    key_of = identity_rows.key_of
    members = {p.key: [(r, _record_row(target, r, s, now)) for r, s in p.others] for p in placed}
    async with target.runtime.sessions() as session, session.begin():
        records = [r for r, _ in failed] + [r for found in members.values() for r, _ in found]
        counted = await retries.count_failures(session, tenant, records, failure, settings, now)
        gone = {key_of(record) for record in counted}
        spent = [record for record, _ in failed if key_of(record) in gone]
        given_up = [member for r in spent for member in members.get(key_of(r), [])]
        exhausted = [
            _rejected(state, failure.error_type, failure.message)
            | {"status": RecordSyncStatus.EXHAUSTED.value}
            for _, state in [*((r, s) for r, s in failed if key_of(r) in gone), *given_up]
        ]
        if exhausted:
            await _save_records(session, exhausted)
        refusals = [Refusal(r, AMS_EXHAUSTED, failure.error_type, failure.message) for r in spent]
        await rejections.exhaust(session, tenant, target.table_map, refusals)
        await retries.forget(
            session, tenant, target.lease.entity.value, [key_of(r) for r, _ in given_up]
        )
        keys = [key_of(record) for record, _ in failed]
        await _announce_uploads(session, target, keys, now)  # a stored file stays stored
        await _renew(session, target.runtime, target.lease)
    target.run.rejected += len(spent)
    target.run.deferred += len(failed) - len(spent)
    log.warning(
        "ams.records_failed",
        records=len(failed),
        exhausted=len(spent),
        error_type=failure.error_type,
    )


# Linked records: one merged AMS row per linked set (app.ams.identity_rows)


async def _planned(
    target: _Target, page: list[Candidate]
) -> tuple[list[Candidate], list[identity_rows.Placement]]:
    """The page's records that keep a row of their own, and the rows of linked sets (and of
    records leaving one) to place."""
    if not target.table_map.identity_fields:
        return page, []
    tenant = target.lease.tenant
    async with reading(target.runtime.sessions) as session:
        if target.policy is None:
            target.policy = await current_policy(session, tenant, target.lease.entity)
        plan = await identity_rows.plan(session, tenant, target.table_map, target.policy, page)
    return plan.plain, plan.placements


async def _place(
    target: _Target, placements: list[identity_rows.Placement], now: datetime, synced_at: str
) -> tuple[list[dict[str, Any]], list[tuple[Row, dict[str, Any]]]]:
    """Each placed row is written like a record's own: only the columns that changed since it
    was last written (all of them for a row not written yet). An unchanged one is settled now."""
    unchanged: list[dict[str, Any]] = []
    outgoing: list[tuple[Row, dict[str, Any]]] = []
    present = await _identity_columns(target) if placements else set()
    for placement in placements:
        members = [(placement.record, placement.synced), *placement.others]
        target.run.platforms.update(record.source_platform for record, _ in members)
        written = placement.written
        state = _record_row(target, placement.record, placement.synced, now) | {
            "id": placement.sync_id,
            "merged_into": placement.holder_id,
            "airtable_record_id": written.airtable_record_id if written else None,
            "field_hashes": dict(written.field_hashes) if written else {},
        }
        # Its members' held entries or attempts (they share the row's) settle once it lands.
        target.was_rejected.update(identity_rows.key_of(record) for record, _ in members)
        extra = {column: value for column, value in placement.extra.items() if column in present}
        cells = target.table_map.content(placement.data) | extra
        hashes = {column: value_hash(value) for column, value in cells.items()}
        changed = _changed(cells, hashes, written)
        if not changed and written is not None:
            others = await _settle_placed(target, placement, str(written.airtable_record_id), now)
            unchanged += [state, *others]
            continue
        sync_cells = target.table_map.sync_values(placement.data, synced_at)
        row = Row(placement.key, changed | sync_cells, target.table_map.typecast(changed))
        outgoing.append((row, state | {"field_hashes": hashes}))
        target.sending[row.key] = placement.record
        target.placed[row.key] = placement
        jobs = [r.last_job_id for r, s in members if s is None or s.content_hash != r.content_hash]
        if jobs and jobs[0]:
            target.jobs[row.key] = jobs[0]
    return unchanged, outgoing


async def _identity_columns(target: _Target) -> set[str]:
    """The identity columns the base has: all of them in a base made from template version 3 on;
    a base made before is read once per sync (someone may have added them). Without them a
    merged row is written all the same, less those columns."""
    if target.identity_columns is not None:
        return target.identity_columns
    wanted = set(target.table_map.identity_fields.values())
    found = await provisioning.find_provisioning(target.runtime, target.lease.tenant)
    if found is not None and identity_rows.template_has_identity_columns(found.config):
        target.identity_columns = wanted
        return wanted
    await target.runtime.pacer.acquire(target.base_id)
    target.run.count_request()
    tables = await asyncio.to_thread(target.airtable.base_schema, target.base_id)
    table = next((t for t in tables if target.table_id in (t.id, t.name)), None)
    target.identity_columns = wanted & {f.name for f in table.fields} if table else set()
    if target.identity_columns != wanted:
        missing = sorted(wanted - target.identity_columns)
        log.warning("ams.identity_columns_missing", table=target.table_map.table, missing=missing)
    return target.identity_columns


async def _settle_placed(
    target: _Target, placement: identity_rows.Placement, airtable_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Once a merged row holds its set: the rows of their own its other members had are deleted
    from the AMS, its resolutions recorded, and their bookkeeping (returned) points at it."""
    if placement.superseded:
        table = AmsTable(target.base_id, target.table_id)
        runtime = target.runtime
        deleter = RowDeleter(target.airtable, table, runtime.pacer, runtime.settings)
        await deleter.delete(placement.superseded)
        log.info("ams.linked_rows_merged", removed=len(placement.superseded))
    if placement.resolutions:
        async with target.runtime.sessions() as session, session.begin():
            tenant, entity = target.lease.tenant, target.lease.entity
            await record_resolutions(session, tenant, entity, None, placement.resolutions)
    return [
        _record_row(target, record, synced, now)
        | {
            "merged_into": placement.holder_id,
            "airtable_record_id": airtable_id,
            "field_hashes": {},
            "synced_at": now,
        }
        for record, synced in placement.others
    ]


async def _placed_outcome(
    target: _Target,
    placed: list[identity_rows.Placement],
    result: BatchResult,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[Resolution]]:
    """The other members' bookkeeping after their merged row's write: pointing at it when it
    was written (their own rows deleted first); when Airtable refused it, as they were, with
    the refusal (the holder's record holds the quarantine entry)."""
    refused = {r.key: r for r in result.rejected}
    rows: list[dict[str, Any]] = []
    resolved: list[Resolution] = []
    for placement in placed:
        airtable_id = result.written.get(placement.key)
        if airtable_id is not None:
            placement_resolutions, placement.resolutions = placement.resolutions, []
            rows += await _settle_placed(target, placement, airtable_id, now)
            resolved += placement_resolutions
            continue
        rejection = refused[placement.key]
        rows += [
            _rejected(
                _record_row(target, record, synced, now), rejection.error_type, rejection.message
            )
            for record, synced in placement.others
        ]
    return rows, resolved


async def _sync_regrouped(target: _Target) -> None:
    """When the conflict policy changed since the merged rows were placed (and on the first
    sync): every linked set and merged row is placed again with the current policy."""
    if not target.table_map.identity_fields:
        return
    tenant, entity = target.lease.tenant, target.lease.entity
    async with reading(target.runtime.sessions) as session:
        policy = await current_policy(session, tenant, entity)
        if await identity_rows.policy_applied(session, tenant, entity, policy):
            return
        found = await identity_rows.regroup_candidates(session, tenant, entity, policy)
    target.policy = policy
    for start in range(0, len(found), PAGE):
        await _sync_page(target, found[start : start + PAGE])
        if target.runtime.stopping:
            raise SyncStopped()
    async with target.runtime.sessions() as session, session.begin():
        await identity_rows.mark_applied(session, tenant, entity, policy)
        await _renew(session, target.runtime, target.lease)


# Archival: the row's Archived column follows the record's archived state (app.ams.archival)

Archival = tuple[AmsSyncRecord, CanonicalRecord, datetime | None]  # the archival to show


@dataclass
class _ArchivalChecks:
    """One page of rows to check: records' own rows with the archival each should show, and
    the holders of merged rows to check (app.ams.identity_rows.merged_archivals)."""

    own: list[Archival] = field(default_factory=list)
    holders: set[str] = field(default_factory=set)


async def _sync_archival(target: _Target) -> None:
    """Check the Archived column of rows whose record is archived (from the archivals), and
    clear it on rows showing an archival that no longer holds (from the rows showing one).
    Each side is read from its own index first and the rows then by key, so the work follows
    the archivals, whatever the planner's statistics."""
    column = target.table_map.archive_field
    if column is None:
        return
    for pages in (_from_archivals(target), _from_rows_shown(target)):
        async for checks in pages:
            await _write_archival(target, column, checks.own)
            if checks.holders:
                tenant, entity = target.lease.tenant, target.lease.entity
                async with reading(target.runtime.sessions) as session:
                    merged = await identity_rows.merged_archivals(
                        session, tenant, entity, checks.holders
                    )
                shown = [(found.holder, found.record, found.archived_at) for found in merged]
                await _write_archival(target, column, shown)
            if target.runtime.stopping:
                raise SyncStopped()


async def _from_archivals(target: _Target) -> AsyncIterator[_ArchivalChecks]:
    """Pages of the tenant's archived records, with the rows showing them (a merged row's
    member: its holder, to check)."""
    tenant, entity = target.lease.tenant, target.lease.entity
    after: Key | None = None
    while True:
        async with reading(target.runtime.sessions) as session:
            page = await archival.archived_after(session, tenant, entity, after, PAGE)
            if not page:
                return
            keys = [key for key, _ in page]
            rows = await _shown_rows(session, target, keys)
            records = await archival.records_of(session, tenant, entity, keys)
        checks = _ArchivalChecks()
        for key, archived_at in page:
            synced, record = rows.get(key), records.get(key)
            if synced is None or record is None:
                continue
            if synced.merged_into is not None:
                checks.holders.add(synced.merged_into)
                continue
            shown = archival.archival_shown(record, archived_at)
            if shown is not None and synced.archived_at != shown:
                checks.own.append((synced, record, shown))
        yield checks
        after = page[-1][0]


async def _from_rows_shown(target: _Target) -> AsyncIterator[_ArchivalChecks]:
    """Pages of the rows showing an archival (partial index), those whose archival no longer
    holds (the record was pushed again since, or revived) to clear; merged rows' holders to
    check."""
    tenant, entity = target.lease.tenant, target.lease.entity
    synced = AmsSyncRecord
    after: tuple[datetime, str] | None = None
    query = (
        select(synced)
        .where(
            synced.client_id == tenant.client_id,
            synced.livemode == tenant.livemode,
            synced.entity == entity.value,
            synced.archived_at.is_not(None),
            synced.airtable_record_id.is_not(None),
        )
        .order_by(synced.archived_at, synced.id)
        .limit(PAGE)
    )
    while True:
        async with reading(target.runtime.sessions) as session:
            paged = (
                query
                if after is None
                else query.where(tuple_(synced.archived_at, synced.id) > after)
            )
            rows = list(await session.scalars(paged))
            if not rows:
                return
            keys = [(row.source_platform, row.external_id) for row in rows]
            records = await archival.records_of(session, tenant, entity, keys)
            archivals = await archival.archivals_of(session, tenant, entity, keys)
        checks = _ArchivalChecks()
        for row, key in zip(rows, keys, strict=True):
            if row.merged_into is not None:
                checks.holders.add(row.merged_into)
            elif (record := records.get(key)) is not None and (
                archival.archival_shown(record, archivals.get(key)) is None
            ):
                checks.own.append((row, record, None))
        yield checks
        after = (cast(datetime, rows[-1].archived_at), rows[-1].id)


async def _shown_rows(
    session: AsyncSession, target: _Target, keys: Sequence[Key]
) -> dict[Key, AmsSyncRecord]:
    """The sync records of these records that have a row in the AMS (theirs or a merged one)."""
    synced, tenant = AmsSyncRecord, target.lease.tenant
    found: dict[Key, AmsSyncRecord] = {}
    for keyed in archival.by_key(synced, keys):
        rows = await session.scalars(
            select(synced).where(
                synced.client_id == tenant.client_id,
                synced.livemode == tenant.livemode,
                synced.entity == target.lease.entity.value,
                keyed,
                synced.airtable_record_id.is_not(None),
            )
        )
        found |= {(row.source_platform, row.external_id): row for row in rows}
    return found


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
        "merged_into": synced.merged_into if synced else None,
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


async def _write_all(
    target: _Target, outgoing: list[tuple[Row, dict[str, Any]]], size: int = MAX_RECORDS_PER_REQUEST
) -> None:
    """Batches of `size` (10) with the same typecast, a few in flight (the pacer spaces them)."""
    if not outgoing:
        return
    writer = _writer(target)
    gate = asyncio.Semaphore(target.runtime.settings.ams_write_concurrency)
    batches = [
        group[start : start + size]
        for group in (
            [o for o in outgoing if o[0].typecast],
            [o for o in outgoing if not o[0].typecast],
        )
        for start in range(0, len(group), size)
    ]

    async def write(batch: Sequence[tuple[Row, dict[str, Any]]]) -> None:
        async with gate:
            if target.runtime.stopping:  # batches not sent stay changed: the next run sends them
                return
            try:
                result = await writer.write([row for row, _ in batch])
            except Exception as error:
                await _failed_batch(target, batch, error)
                return
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
    placed = [target.placed.pop(row.key) for row, _ in batch if row.key in target.placed]
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
    placed_rows, resolved = await _placed_outcome(target, placed, result, now)
    rows += placed_rows
    merged = [
        identity_rows.key_of(record)
        for placement in placed
        if placement.key in result.written
        for record, _ in placement.others
    ]
    written = [row.key for row, _ in batch if row.key in result.written]
    jobs = [target.jobs.pop(key) for key in written if key in target.jobs]
    async with target.runtime.sessions() as session, session.begin():
        tenant, entity = target.lease.tenant, target.lease.entity.value
        origins = await write_origins(session, tenant, entity, jobs)
        await _save_records(session, rows)
        await record_resolutions(session, tenant, target.lease.entity, None, resolved)
        await rejections.hold(session, tenant, target.table_map, refusals)
        await rejections.resolve(session, tenant, target.lease.entity, _taken(target, rows))
        with origins.traced():
            await _announce_written(session, target, written, now, merged)
            await _announce_uploads(session, target, [row.key for row, _ in batch], now)
        await _renew(session, target.runtime, target.lease)
    origins.observe()


async def _announce_written(
    session: AsyncSession,
    target: _Target,
    written: list[tuple[str, str]],
    now: datetime,
    merged: Sequence[Key] = (),
) -> None:
    """Usage (AMS writes) and, for products, one `product.synced` event per source platform, in
    the transaction that records the writes. `merged`: the other records shown in the merged
    rows written (announced too, not metered again)."""
    if not written:
        return
    tenant = target.lease.tenant
    await add_usage(session, tenant, {Metric.AMS_WRITES: len(written)})
    if target.lease.entity is not Entity.PRODUCT:
        return
    by_platform: dict[str, list[str]] = {}
    for platform, external_id in [*written, *merged]:
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
    """Upsert sync records. A rejected (or exhausted) record keeps the hashes of what was last
    written. The records whose content they hold are no longer pending."""
    if not rows:
        return
    table = cast(Table, AmsSyncRecord.__table__)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    new = statement.excluded
    rejected = or_(*(new.status == status for status in _HELD))  # executemany: no IN
    columns = [
        "airtable_record_id",
        "merged_into",
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
    await session.execute(HANDLED, [_handled(*(row[name] for name in _HANDLED_BY)) for row in rows])


_HANDLED_BY = ("client_id", "livemode", "entity", "source_platform", "external_id", "content_hash")


def _handled(
    client_id: str, livemode: bool, entity: str, platform: str, external_id: str, content: str
) -> dict[str, Any]:
    """HANDLED's parameters: this record, while its content is `content`."""
    key = key_parameters(Tenant(client_id, livemode), entity, platform, external_id)
    return key | {"k_hash": content}


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


async def unchanged_count(session: AsyncSession, tenant: Tenant, state: AmsSyncState) -> int:
    """The records already in the AMS as they are, read when asked (never by a sync pass, which
    reads only the changed records): the catalogue less what the last sync wrote or had refused,
    less the records whose content is still to be handled (a deferred write, a newer change)."""
    scope = (
        CanonicalRecord.client_id == tenant.client_id,
        CanonicalRecord.livemode == tenant.livemode,
        CanonicalRecord.entity == state.entity,
    )
    total = await session.scalar(select(func.count()).select_from(CanonicalRecord).where(*scope))
    pending = await session.scalar(
        select(func.count())
        .select_from(CanonicalRecord)
        .where(*scope, CanonicalRecord.sync_pending)
    )
    return max(0, int(total or 0) - state.written - state.rejected - int(pending or 0))


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
