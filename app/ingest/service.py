"""Accepting an ingest call: envelope checks, idempotency, then the job and every raw record
written in one transaction. Per-record validation happens in the worker, so one bad record never
costs the partner the good ones."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import structlog
from sqlalchemy import Dialect, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import exact_json
from app.contracts.entities import INLINE_CONTENT_CHARACTERS, Entity
from app.contracts.fields import SourcePlatform
from app.db.models import IngestJob, StagedRecord
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.ingest.repeated_keys import repeated_key, repeated_key_error
from app.jobs.models import Door, JobStatus
from app.privacy.staged_subjects import NO_SUBJECT, Subject, staged_subject, subject_in
from app.services import Services
from app.tenancy.models import Principal
from app.transform.loader import mappings

MAX_IDEMPOTENCY_KEY_LENGTH = 255
STAGED_COLUMNS = (
    "job_id",
    "position",
    "client_id",
    "payload",
    "subject_email",
    "subject_external_id",
)
StagedRow = tuple[str, int, str, str, str | None, str | None]  # in STAGED_COLUMNS order
REPLAYED_COLUMNS = (  # the table's order
    "job_id",
    "position",
    "client_id",
    "payload",
    "quarantine_id",
    "subject_email",
    "subject_external_id",
)
ReplayedRow = tuple[str, int, str, str, str, str | None, str | None]  # in REPLAYED_COLUMNS order
log = structlog.get_logger("gateway.ingest")
_stage_statements: dict[tuple[str, str, tuple[str, ...]], str] = {}


@dataclass(frozen=True)
class IngestRequest:
    entity: Entity
    records: list[Any]  # JSON values, or already canonical JSON text (see canonical_records)
    idempotency_key: str | None
    door: Door
    request_id: str | None = None
    source_platform: SourcePlatform | None = None  # records in this platform's native shape
    subjects: list[Subject] | None = None  # whom each names, if read with it (canonical_records)


@dataclass(frozen=True)
class IngestAccepted:
    job: IngestJob
    replayed: bool


def check_envelope(request: IngestRequest, max_records: int) -> None:
    errors = []
    count = len(request.records)
    if count == 0:
        errors.append(
            FieldError("empty_records", "records must hold at least one record.", ("records",))
        )
    elif count > max_records:
        errors.append(
            FieldError(
                "too_many_records",
                f"records holds {count} records; at most {max_records} are accepted per call. "
                "Split the batch, or use the bulk NDJSON import.",
                ("records",),
            )
        )
    key = request.idempotency_key
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        errors.append(
            FieldError(
                "invalid_idempotency_key",
                f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
                ("idempotencyKey",),
            )
        )
    if errors:
        raise GatewayError("invalid_envelope", errors[0].message, errors=errors)


def record_byte_limit(max_record_bytes: int, entity: Entity) -> int:
    """The largest record of this entity a call may carry: assets may carry their file inline."""
    return max_record_bytes + (INLINE_CONTENT_CHARACTERS if entity is Entity.ASSET else 0)


def check_record_sizes(payloads: list[bytes], limit: int) -> None:
    """A record larger than the limit is a request error naming it (the limit as the NDJSON
    door's per-line one; webhooks, whose senders cannot split a record, are not checked)."""
    errors = [
        FieldError(
            "record_too_large",
            f"records[{index}] is {len(payload):,} bytes as JSON; one record may be at most "
            f"{limit:,} bytes. Send large files as an asset's source_url.",
            ("records", index),
        )
        for index, payload in enumerate(payloads)
        if len(payload) > limit
    ]
    if errors:
        raise GatewayError("invalid_envelope", errors[0].message, errors=errors)


def check_mapping(request: IngestRequest) -> None:
    """Raw records need a mapping file for their platform and entity."""
    platform = request.source_platform
    if platform is None or (platform, request.entity) in mappings():
        return
    raise unsupported_mapping(platform.value, request.entity)


def unsupported_mapping(platform: str, entity: Entity) -> GatewayError:
    """The one answer, whichever door asked, for a platform and entity with no mapping rules."""
    supported = ", ".join(sorted(f"{p.value} {e.value}" for p, e in mappings()))
    message = (
        f"No mapping for {platform} {entity.value} records. "
        f"Supported: {supported}. Map the records to the standard schema and use the "
        "entity's ingest call instead."
    )
    return GatewayError(
        "unsupported_mapping",
        message,
        errors=[FieldError("unsupported_mapping", message, ("platform",))],
    )


def fingerprint(request: IngestRequest, records_digest: str) -> str:
    """What idempotency compares: the entity, the shape and the records (see serialise_records)."""
    kind = request.entity.value
    if request.source_platform is not None:  # standard requests keep their original hashes
        kind = f"{kind}:{request.source_platform.value}"
    return hashlib.sha256(f"{kind}:{records_digest}".encode()).hexdigest()


def canonical_records(
    texts: Iterable[bytes | memoryview], entity: Entity
) -> tuple[list[orjson.Fragment], list[Subject]]:
    """Each record's JSON text in its canonical form, to pass as `IngestRequest.records`
    (serialise_records keeps a Fragment as it is), and the email and id each audience record
    names, read from the same parse (`IngestRequest.subjects`). Parsing a batch one record at a
    time, each record freed as soon as it is serialised, costs half of parsing it whole. A record
    that repeats a key is a request error naming it (app.ingest.repeated_keys)."""
    audience = entity is Entity.AUDIENCE
    records, subjects = [], []
    for index, text in enumerate(texts):
        canonical, subject, key = canonical_record(text, audience)
        if key is not None:
            raise repeated_key_error(key, f"records[{index}]", ("records", index))
        records.append(orjson.Fragment(canonical))
        subjects.append(subject)
    return records, subjects


def canonical_record(text: bytes | memoryview, audience: bool) -> tuple[bytes, Subject, str | None]:
    """One record's JSON text read once (failing as exact_json.loads fails): its canonical form,
    whom it names (see canonical_form) and the key it repeats, if any."""
    canonical, subject = canonical_form(exact_json.loads(text), audience)
    return canonical, subject, repeated_key(text, canonical)


def canonical_form(value: Any, audience: bool) -> tuple[bytes, Subject]:
    """A parsed record's canonical JSON (sorted keys) and, for an audience record, whom it names
    (app.privacy.staged_subjects): read here, from the one parse, not again from the payload."""
    subject = subject_in(value) if audience else NO_SUBJECT
    return exact_json.dumps(value, sort_keys=True), subject


def serialise_records(records: list[Any]) -> tuple[list[bytes], str]:
    """Each record as canonical JSON (sorted keys), and a hash of the whole request: the same
    records hash alike whatever their key order, through whichever door they came."""
    payloads = [exact_json.dumps(record, sort_keys=True) for record in records]
    digest = hashlib.sha256(b"\n".join(payloads))
    if payloads:
        digest.update(b"\n")  # every payload is followed by a newline in the hash
    return payloads, digest.hexdigest()


def subjects_of(records: list[Any], entity: str) -> list[Subject] | None:
    """Whom each parsed audience record names, read from the values already in hand; None
    (staged_rows reads the payloads) for other entities and for canonical JSON Fragments."""
    if entity != Entity.AUDIENCE.value or any(isinstance(r, orjson.Fragment) for r in records):
        return None
    return [subject_in(record) for record in records]


def staged_rows(
    job_id: str,
    client_id: str,
    first_position: int,
    payloads: list[bytes],
    entity: str,
    subjects: Sequence[Subject] | None = None,
) -> list[StagedRow]:
    """The payloads' staged rows; an audience record's with the email and id it names, for
    erasure (app.privacy.staged_subjects): those given, else read from the payloads."""
    if subjects is None:
        audience = entity == Entity.AUDIENCE.value
        subjects = (
            [staged_subject(p) for p in payloads] if audience else [NO_SUBJECT] * len(payloads)
        )
    return [
        staged_row(job_id, position, client_id, payload, subject)
        for position, (payload, subject) in enumerate(
            zip(payloads, subjects, strict=True), first_position
        )
    ]


def staged_row(
    job_id: str, position: int, client_id: str, payload: bytes, subject: Subject
) -> StagedRow:
    email, external_id = subject
    return (job_id, position, client_id, payload.decode(), email, external_id)


def replayed_row(row: StagedRow, quarantine_id: str) -> ReplayedRow:
    """A staged row that re-runs a quarantined record."""
    job_id, position, client_id, payload, email, external_id = row
    return (job_id, position, client_id, payload, quarantine_id, email, external_id)


async def stage_records(session: AsyncSession, rows: Sequence[StagedRow]) -> None:
    """One executemany of plain tuples on the session's connection: building SQLAlchemy's bound
    parameters costs as much as SQLite's own insert at a thousand rows a call."""
    await _stage(session, rows, STAGED_COLUMNS)


async def stage_replays(session: AsyncSession, rows: Sequence[ReplayedRow]) -> None:
    await _stage(session, rows, REPLAYED_COLUMNS)


async def _stage(
    session: AsyncSession,
    rows: Sequence[StagedRow] | Sequence[ReplayedRow],
    columns: tuple[str, ...],
) -> None:
    connection = await session.connection()
    await connection.exec_driver_sql(_stage_statement(connection.dialect, columns), rows)


def _stage_statement(dialect: Dialect, columns: tuple[str, ...]) -> str:
    """The staged-row INSERT in the dialect's own (positional: qmark for SQLite, $n for asyncpg)
    parameter style, compiled once per dialect."""
    key = (dialect.name, dialect.driver, columns)
    if key not in _stage_statements:
        compiled = insert(cast(Table, StagedRecord.__table__)).compile(
            dialect=dialect, column_keys=list(columns)
        )
        if not dialect.positional or tuple(compiled.positiontup or ()) != columns:
            raise RuntimeError(
                f"staged rows need a positional driver, not {dialect.driver}, and their columns "
                "in the table's order"
            )
        _stage_statements[key] = str(compiled)
    return _stage_statements[key]


async def accept_ingest(
    session: AsyncSession,
    principal: Principal,
    request: IngestRequest,
    max_records: int,
    max_record_bytes: int | None = None,
) -> IngestAccepted:
    """Persist the job and its records (the caller commits, then dispatches the job id)."""
    check_envelope(request, max_records)
    check_mapping(request)
    payloads, records_digest = serialise_records(request.records)
    if max_record_bytes is not None:
        check_record_sizes(payloads, record_byte_limit(max_record_bytes, request.entity))
    request_hash = fingerprint(request, records_digest)
    if request.idempotency_key is not None:
        earlier = await find_by_idempotency_key(session, principal, request.idempotency_key)
        if earlier is not None:
            return replay(earlier, request_hash)
    job = new_job(principal, request, request_hash, received=len(payloads))
    subjects = request.subjects or subjects_of(request.records, job.entity)
    rows = staged_rows(job.id, job.client_id, 0, payloads, job.entity, subjects)
    if request.idempotency_key is None:
        await _persist(session, job, rows)
        return IngestAccepted(job=job, replayed=False)
    try:
        async with session.begin_nested():
            await _persist(session, job, rows)
    except IntegrityError:
        # A concurrent call with the same key won the race: answer as its replay.
        earlier = await find_by_idempotency_key(session, principal, request.idempotency_key)
        if earlier is None:
            raise
        return replay(earlier, request_hash)
    return IngestAccepted(job=job, replayed=False)


async def _persist(session: AsyncSession, job: IngestJob, rows: list[StagedRow]) -> None:
    session.add(job)
    await session.flush()  # the job row first: staged rows reference it
    await stage_records(session, rows)


async def append_records(
    session: AsyncSession, principal: Principal, job_id: str, records: list[Any], max_records: int
) -> bool:
    """Add records to the end of one of the tenant's jobs that no worker has claimed yet (the
    caller commits); False, with nothing written, when a worker claimed it meanwhile or the job
    would then hold more than max_records. The guarded counter update orders this against the
    claim, which reads the job's records only after it commits."""
    payloads, _ = serialise_records(records)
    tenant = principal.tenant
    appended = await session.execute(
        update(IngestJob)
        .where(
            IngestJob.id == job_id,
            IngestJob.client_id == tenant.client_id,
            IngestJob.livemode == tenant.livemode,
            IngestJob.status == JobStatus.QUEUED.value,
            IngestJob.attempts == 0,
            IngestJob.received + len(payloads) <= max_records,
        )
        .values(received=IngestJob.received + len(payloads))
        .returning(IngestJob.received, IngestJob.entity)
    )
    row = appended.first()
    if row is None:
        return False
    received, entity = row
    first = received - len(payloads)
    subjects = subjects_of(records, entity)
    await stage_records(
        session, staged_rows(job_id, tenant.client_id, first, payloads, entity, subjects)
    )
    return True


def new_job(
    principal: Principal, request: IngestRequest, request_hash: str, received: int
) -> IngestJob:
    return IngestJob(
        id=new_id("job"),
        client_id=principal.tenant.client_id,
        livemode=principal.tenant.livemode,
        api_key_id=principal.key_id,
        entity=request.entity.value,
        door=request.door.value,
        source_platform=request.source_platform.value if request.source_platform else None,
        status=JobStatus.QUEUED.value,
        idempotency_key=request.idempotency_key,
        request_hash=request_hash,
        request_id=request.request_id,
        received=received,
        valid=0,
        quarantined=0,
        unchanged=0,
        stale=0,
        written=0,
        processed=0,
        attempts=0,
        created_at=datetime.now(UTC),
        dispatched_at=datetime.now(UTC),
    )


async def find_by_idempotency_key(
    session: AsyncSession, principal: Principal, key: str
) -> IngestJob | None:
    tenant = principal.tenant
    return await session.scalar(
        select(IngestJob).where(
            IngestJob.client_id == tenant.client_id,
            IngestJob.livemode == tenant.livemode,
            IngestJob.idempotency_key == key,
        )
    )


def replay(earlier: IngestJob, request_hash: str) -> IngestAccepted:
    if earlier.request_hash != request_hash:
        raise GatewayError(
            "idempotency_conflict",
            "This idempotencyKey was already used with a different request. Use a new key for "
            "new data, or resend exactly the original request to get its job.",
            kind="conflict",
            errors=[
                FieldError(
                    "idempotency_conflict", "Key reused with a different body.", ("idempotencyKey",)
                )
            ],
        )
    return IngestAccepted(job=earlier, replayed=True)


async def submit_ingest(
    services: Services, principal: Principal, request: IngestRequest
) -> IngestAccepted:
    """The one entry every door uses: persist, commit, then hand the job id to a worker."""
    settings = services.settings
    size_limit = None if request.door is Door.WEBHOOK else settings.max_record_bytes
    async with services.sessions() as session, session.begin():
        accepted = await accept_ingest(
            session, principal, request, settings.max_records_per_call, size_limit
        )
    await hand_over(services, request, accepted)
    return accepted


async def hand_over(services: Services, request: IngestRequest, accepted: IngestAccepted) -> None:
    """Once the job is committed: dispatch it (unless it is a replay) and log the acceptance."""
    if not accepted.replayed:
        await services.dispatcher.dispatch([accepted.job.id])
    log.info(
        "ingest.accepted",
        job_id=accepted.job.id,
        entity=request.entity.value,
        platform=request.source_platform.value if request.source_platform else None,
        records=accepted.job.received,
        replayed=accepted.replayed,
        door=request.door.value,
    )
