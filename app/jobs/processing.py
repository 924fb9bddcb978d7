"""Running one ingest job: claim a lease, process staged records chunk by chunk, finish.

Each chunk commits its canonical writes, its record errors, the job's counters and the resume
cursor in one transaction, guarded by the lease token. A killed worker's job is claimed again once
the lease expires and resumes after the last committed chunk; re-running a chunk changes nothing.
"""

import asyncio
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import exact_json
from app.ams.due import mark_sync_due
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.db.models import Client, IngestJob, RecordError, StagedRecord
from app.errors import FieldError
from app.events.emitters import record_job_completed
from app.jobs.models import JobStatus
from app.mappings_override.service import mapping_for_job
from app.observability.pipeline import count_ingest_outcomes
from app.privacy.suppression import Suppression, load_suppression
from app.quarantine.holding import QuarantineBatch, patched_attempt, replay_patches
from app.records.conflicts import Superseded
from app.records.service import Outcome, RecordKey
from app.records.storing import store_records
from app.records.validation import ValidRecord, external_id_of, validate_record
from app.rules.engine import RuleSet
from app.rules.service import current_rule_set, default_rule_set
from app.settings import Settings
from app.tenancy.models import Tenant
from app.transform.context import ClientDefaults
from app.transform.errors import MappingError
from app.transform.loader import mappings
from app.transform.mapping import RecordMapper
from app.transform.rules import MappingRules
from app.usage.service import add_usage, job_usage

log = structlog.get_logger("gateway.jobs")


class LeaseLost(Exception):
    """Another worker holds the job now; this one stops without committing."""


@dataclass(frozen=True)
class Lease:
    job_id: str
    token: str
    tenant: Tenant
    entity: Entity
    request_id: str | None
    attempts: int
    processed: int
    platform: SourcePlatform | None = None  # raw ingest: records in this platform's shape
    defaults: ClientDefaults = field(default_factory=ClientDefaults)  # fills platform gaps
    rules: RuleSet | None = None  # the client's validation rules (None: the built-in ones)
    mapping: MappingRules | None = None  # raw ingest: the rule file with the client's overrides
    suppression: Suppression | None = None  # erased people the client holds back (app.privacy)

    @cached_property
    def mapper(self) -> RecordMapper | None:
        """Raw ingest: the mapper of the job's records, made once per lease (not per record)."""
        if self.platform is None:
            return None
        rules = self.mapping or mappings()[(self.platform, self.entity)]
        return RecordMapper(rules, self.defaults)


def _now() -> datetime:
    return datetime.now(UTC)


async def claim(
    sessions: async_sessionmaker[AsyncSession], job_id: str, settings: Settings
) -> Lease | None:
    now = _now()
    token = secrets.token_hex(16)
    async with sessions() as session, session.begin():
        claimed = await session.execute(
            update(IngestJob)
            .where(
                IngestJob.id == job_id,
                or_(
                    IngestJob.status == JobStatus.QUEUED.value,
                    (IngestJob.status == JobStatus.PROCESSING.value)
                    & (IngestJob.lease_expires_at < now),
                ),
                IngestJob.attempts < settings.job_max_attempts,
            )
            .values(
                status=JobStatus.PROCESSING.value,
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=settings.job_lease_seconds),
                attempts=IngestJob.attempts + 1,
                started_at=func.coalesce(IngestJob.started_at, now),
            )
            .returning(
                IngestJob.client_id,
                IngestJob.livemode,
                IngestJob.entity,
                IngestJob.request_id,
                IngestJob.attempts,
                IngestJob.processed,
                IngestJob.source_platform,
                IngestJob.mapping_version,
            )
        )
        row = claimed.first()
        if row is None:
            return None
        client = await session.get(Client, row.client_id)
        tenant = Tenant(row.client_id, row.livemode)
        rules = await current_rule_set(session, tenant, Entity(row.entity))
        mapping = await _job_mapping(session, job_id, tenant, row)
        suppression = await load_suppression(session, tenant, Entity(row.entity), settings)
    return Lease(
        job_id,
        token,
        tenant,
        Entity(row.entity),
        row.request_id,
        row.attempts,
        row.processed,
        SourcePlatform(row.source_platform) if row.source_platform else None,
        _defaults_of(client),
        rules,
        mapping,
        suppression,
    )


async def _job_mapping(
    session: AsyncSession, job_id: str, tenant: Tenant, row: Any
) -> MappingRules | None:
    """A raw job's mapping rules; the version is pinned on the job when it is first claimed."""
    if row.source_platform is None:
        return None
    platform, entity = SourcePlatform(row.source_platform), Entity(row.entity)
    mapping, version = await mapping_for_job(session, tenant, platform, entity, row.mapping_version)
    if row.mapping_version != version:
        await session.execute(
            update(IngestJob).where(IngestJob.id == job_id).values(mapping_version=version)
        )
    return mapping


def _defaults_of(client: Client | None) -> ClientDefaults:
    """The client's stored defaults; nothing is assumed where it has none (a Shopify price
    without a currency is then an error, never a guess)."""
    if client is None:
        return ClientDefaults()
    zone = ZoneInfo(client.timezone) if client.timezone else UTC
    return ClientDefaults(
        currency=client.default_currency, timezone=zone, region=client.default_region
    )


@dataclass(frozen=True)
class StagedRow:
    position: int
    payload: str
    quarantine_id: str | None = None  # replays: the quarantined record this row re-runs
    patches: tuple[Any, ...] = ()  # replays: the fixes made to it, applied after mapping


@dataclass
class ValidatedChunk:
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, object]] = field(default_factory=list)
    newest: dict[RecordKey, ValidRecord] = field(default_factory=dict)
    quarantine: QuarantineBatch = field(default_factory=QuarantineBatch)
    superseded: list[Superseded] = field(default_factory=list)  # in-batch duplicates dropped
    # Where each kept record came from: the store may still refuse one (app.records.variations).
    origins: dict[RecordKey, tuple[StagedRow, str | bytes]] = field(default_factory=dict)


def standard_payload(lease: Lease, payload: str) -> tuple[str | bytes, list[FieldError]]:
    """The staged payload in the standard shape, ready for validation, and any mapping errors
    (paths name the native field, e.g. variants[0].price). Standard-shaped jobs: as staged."""
    mapper = lease.mapper
    if mapper is None:
        return payload, []
    data, errors = mapper.map(exact_json.loads(payload))
    native = [
        FieldError(e.code, e.message, (e.source,) if e.source else ())
        if isinstance(e, MappingError)
        else e
        for e in errors
    ]
    return exact_json.dumps(data), native


def validate_chunk(
    lease: Lease, staged: list[StagedRow], chunk: ValidatedChunk | None = None
) -> ValidatedChunk:
    """Map (raw jobs) and validate each record; of duplicates within the chunk keep the newest."""
    chunk = chunk or ValidatedChunk()
    rules = lease.rules or default_rule_set(lease.entity)
    for row in staged:
        payload, mapping_errors = standard_payload(lease, row.payload)
        payload, mapping_errors = patched_attempt(payload, mapping_errors, row.patches)
        result = mapping_errors or validate_record(lease.entity, payload, rules)
        if lease.suppression is not None and not isinstance(result, list):
            held = lease.suppression.errors(result.data, result.source_platform, result.external_id)
            result = held or result
        if isinstance(result, list):
            chunk.counts["quarantined"] += 1
            chunk.errors.extend(_error_rows(lease, row.position, payload, result))
            _hold(lease, chunk, row, payload, result)
            continue
        if row.quarantine_id is not None:
            chunk.quarantine.release(row.quarantine_id)
        chunk.counts["valid"] += 1
        key = (result.source_platform, result.external_id)
        kept = chunk.newest.get(key)
        if kept is None:
            chunk.newest[key], chunk.origins[key] = result, (row, payload)
            continue
        newer_wins = result.source_updated_at >= kept.source_updated_at
        winner, loser = (result, kept) if newer_wins else (kept, result)
        chunk.newest[key] = winner
        if newer_wins:
            chunk.origins[key] = (row, payload)
        same = loser.content_hash == winner.content_hash
        chunk.counts[Outcome.UNCHANGED.value if same else Outcome.STALE.value] += 1
        if not same:
            chunk.superseded.append(Superseded(key, winner, loser))
    return chunk


def _error_rows(
    lease: Lease, position: int, payload: str | bytes, errors: list[FieldError]
) -> list[dict[str, object]]:
    external_id = external_id_of(payload)
    return [
        {
            "job_id": lease.job_id,
            "client_id": lease.tenant.client_id,
            "position": position,
            "external_id": external_id,
            "code": error.code,
            "path": error.dotted_path,
            "message": error.message,
            "rule_id": getattr(error, "rule_id", None),
        }
        for error in errors
    ]


def _hold(
    lease: Lease,
    chunk: ValidatedChunk,
    row: StagedRow,
    attempt: str | bytes,
    errors: list[FieldError],
) -> None:
    chunk.quarantine.hold(
        job_id=lease.job_id,
        tenant=lease.tenant,
        entity=lease.entity.value,
        raw_platform=lease.platform.value if lease.platform else None,
        position=row.position,
        quarantine_id=row.quarantine_id,
        attempt=attempt,
        mapped=lease.platform is not None or bool(row.patches),
        external_id=external_id_of(attempt),
        errors=errors,
    )


async def read_chunk(
    sessions: async_sessionmaker[AsyncSession],
    lease: Lease,
    after_position: int,
    settings: Settings,
) -> list[StagedRow]:
    async with reading(sessions) as session:
        rows = (
            await session.execute(
                select(StagedRecord.position, StagedRecord.payload, StagedRecord.quarantine_id)
                .where(StagedRecord.job_id == lease.job_id, StagedRecord.position >= after_position)
                .order_by(StagedRecord.position)
                .limit(settings.job_chunk_size)
            )
        ).all()
        replayed = [row.quarantine_id for row in rows if row.quarantine_id is not None]
        patches = await replay_patches(session, lease.tenant, replayed)
        return [
            StagedRow(
                row.position,
                row.payload,
                row.quarantine_id,
                patches.get(row.quarantine_id, ()) if row.quarantine_id else (),
            )
            for row in rows
        ]


async def store_chunk(
    session: AsyncSession,
    lease: Lease,
    chunk: ValidatedChunk,
    next_position: int,
    settings: Settings,
) -> None:
    """The write half of a chunk: one transaction, guarded by the lease."""
    stored = await store_records(
        session, lease.tenant, lease.entity, lease.job_id, chunk.newest, chunk.superseded
    )
    chunk.counts.update(outcome.value for outcome in stored.outcomes.values())
    _quarantine_refused(lease, chunk, stored.refused)
    if chunk.errors:
        await session.execute(insert(RecordError), chunk.errors)
    await chunk.quarantine.store(session, lease.tenant, lease.job_id)
    await _advance(session, lease, next_position, chunk.counts, settings)


def _quarantine_refused(
    lease: Lease, chunk: ValidatedChunk, refused: dict[RecordKey, list[FieldError]]
) -> None:
    """Valid records the store refused (a variation one too many for its parent) are
    quarantined like the invalid ones: counted there, not as valid, and not released."""
    for key, errors in refused.items():
        row, payload = chunk.origins[key]
        chunk.counts["valid"] -= 1
        chunk.counts["quarantined"] += 1
        chunk.errors.extend(_error_rows(lease, row.position, payload, errors))
        if row.quarantine_id is not None:
            chunk.quarantine.released.remove(row.quarantine_id)
        _hold(lease, chunk, row, payload, errors)


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    lease: Lease,
    chunk: ValidatedChunk,
    next_position: int,
    settings: Settings,
    last: bool,
) -> JobStatus | None:
    async with sessions() as session, session.begin():
        await store_chunk(session, lease, chunk, next_position, settings)
        status = await _finish(session, lease) if last else None
    count_ingest_outcomes(lease.entity.value, chunk.counts)  # committed: counted once
    return status


async def _advance(
    session: AsyncSession, lease: Lease, processed: int, counts: Counter[str], settings: Settings
) -> None:
    job = IngestJob
    advanced = await session.execute(
        update(job)
        .where(job.id == lease.job_id, job.lease_token == lease.token)
        .values(
            processed=processed,
            valid=job.valid + counts["valid"],
            quarantined=job.quarantined + counts["quarantined"],
            unchanged=job.unchanged + counts["unchanged"],
            stale=job.stale + counts["stale"],
            written=job.written + counts["written"],
            held=job.held + counts["held"],
            lease_expires_at=_now() + timedelta(seconds=settings.job_lease_seconds),
        )
    )
    if advanced.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(lease.job_id)


def final_status(job: IngestJob) -> JobStatus:
    if job.quarantined == 0:
        return JobStatus.SUCCEEDED
    return JobStatus.PARTIALLY_SUCCEEDED if job.valid > 0 else JobStatus.FAILED


async def _finish(session: AsyncSession, lease: Lease) -> JobStatus:
    job = await session.get(IngestJob, lease.job_id, with_for_update=True)
    if job is None or job.lease_token != lease.token:
        raise LeaseLost(lease.job_id)
    status = final_status(job)
    job.status = status.value
    job.finished_at = _now()
    job.lease_token = None
    job.lease_expires_at = None
    record_job_completed(session, job)
    await mark_sync_due(session, lease.tenant, lease.entity)
    await add_usage(session, lease.tenant, job_usage(job))
    return status


async def _record_failure(
    sessions: async_sessionmaker[AsyncSession],
    lease: Lease,
    error: BaseException,
    settings: Settings,
) -> None:
    """Give the job back for a retry (the sweeper redispatches it), or fail it for good."""
    exhausted = lease.attempts >= settings.job_max_attempts
    kind = type(error).__name__
    # Partners see the kind of failure; the details (SQL, parameters) stay in the logs.
    reason = (
        f"Processing failed {lease.attempts} times ({kind}); the job was stopped."
        if exhausted
        else f"Processing failed on attempt {lease.attempts} ({kind}); it will be retried."
    )
    values: dict[str, object] = {
        "lease_token": None,
        "lease_expires_at": None,
        "failure_reason": reason,
    }
    if exhausted:
        values |= {"status": JobStatus.FAILED.value, "finished_at": _now()}
    else:
        values |= {"status": JobStatus.QUEUED.value, "dispatched_at": _now()}
    async with sessions() as session, session.begin():
        await session.execute(
            update(IngestJob)
            .where(IngestJob.id == lease.job_id, IngestJob.lease_token == lease.token)
            .values(**values)
        )


async def run_job(
    sessions: async_sessionmaker[AsyncSession], job_id: str, settings: Settings
) -> JobStatus | None:
    """Process one job to the end. None when the job was not ours to run (done or leased)."""
    lease = await claim(sessions, job_id, settings)
    if lease is None:
        return None
    trace = {"request_id": lease.request_id, "trace_id": lease.request_id}  # see app.observability
    with structlog.contextvars.bound_contextvars(job_id=job_id, **trace):
        log.info("job.started", attempt=lease.attempts, resume_from=lease.processed)
        try:
            return await _run_chunks(sessions, lease, settings)
        except LeaseLost:
            log.warning("job.lease_lost")
            return None
        except Exception as error:
            log.exception("job.error", attempt=lease.attempts)
            await _record_failure(sessions, lease, error, settings)
            return None


VALIDATION_SLICE = 200


async def _validate_cooperatively(lease: Lease, staged: list[StagedRow]) -> ValidatedChunk:
    """Validation is CPU work on the event loop; yielding every slice (~10 ms) keeps the API
    responsive when jobs run in-process."""
    chunk = ValidatedChunk()
    for start in range(0, len(staged), VALIDATION_SLICE):
        validate_chunk(lease, staged[start : start + VALIDATION_SLICE], chunk)
        await asyncio.sleep(0)
    return chunk


async def _run_chunks(
    sessions: async_sessionmaker[AsyncSession], lease: Lease, settings: Settings
) -> JobStatus:
    """Chunks are stored in order; validating the next one overlaps storing the previous one
    (the database works in its own thread), and reading and validating hold no lock. The last
    chunk (a short one) finishes the job in its own transaction."""
    position = lease.processed
    storing: asyncio.Task[JobStatus | None] | None = None
    try:
        while True:
            staged = await read_chunk(sessions, lease, position, settings)
            last = len(staged) < settings.job_chunk_size
            chunk = await _validate_cooperatively(lease, staged)
            position = staged[-1].position + 1 if staged else position
            if storing is not None:
                await storing
            storing = asyncio.create_task(_store(sessions, lease, chunk, position, settings, last))
            if last:
                status = await storing
                break
    finally:
        if storing is not None and not storing.done():
            storing.cancel()
    assert status is not None
    log.info("job.finished", status=status.value)
    return status
