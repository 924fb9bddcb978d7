"""Accepting an ingest call: envelope checks, idempotency, then the job and every raw record
written in one transaction. Per-record validation happens in the worker, so one bad record never
costs the partner the good ones."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.models import IngestJob, StagedRecord
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.jobs.models import Door, JobStatus
from app.services import Services
from app.tenancy.models import Principal
from app.transform.loader import mappings

MAX_IDEMPOTENCY_KEY_LENGTH = 255
# A Core insert: the ORM's bulk path costs ~50 µs of bookkeeping per row, as much as the rest of
# accepting a record.
STAGE_RECORDS = insert(cast(Table, StagedRecord.__table__))
log = structlog.get_logger("gateway.ingest")


@dataclass(frozen=True)
class IngestRequest:
    entity: Entity
    records: list[Any]
    idempotency_key: str | None
    door: Door
    request_id: str | None = None
    source_platform: SourcePlatform | None = None  # records in this platform's native shape


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


def serialise_records(records: list[Any]) -> tuple[list[bytes], str]:
    """Each record as canonical JSON (sorted keys), and a hash of the whole request."""
    digest = hashlib.sha256()
    payloads = []
    for record in records:
        payload = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        digest.update(payload)
        digest.update(b"\n")
        payloads.append(payload)
    return payloads, digest.hexdigest()


async def accept_ingest(
    session: AsyncSession, principal: Principal, request: IngestRequest, max_records: int
) -> IngestAccepted:
    """Persist the job and its records (the caller commits, then dispatches the job id)."""
    check_envelope(request, max_records)
    check_mapping(request)
    payloads, records_digest = serialise_records(request.records)
    request_hash = fingerprint(request, records_digest)
    if request.idempotency_key is not None:
        earlier = await find_by_idempotency_key(session, principal, request.idempotency_key)
        if earlier is not None:
            return replay(earlier, request_hash)
    job = new_job(principal, request, request_hash, received=len(payloads))
    try:
        async with session.begin_nested():
            session.add(job)
            await session.flush()
            await session.execute(STAGE_RECORDS, _staged_rows(job.id, job.client_id, 0, payloads))
    except IntegrityError:
        if request.idempotency_key is None:
            raise
        # A concurrent call with the same key won the race: answer as its replay.
        earlier = await find_by_idempotency_key(session, principal, request.idempotency_key)
        if earlier is None:
            raise
        return replay(earlier, request_hash)
    return IngestAccepted(job=job, replayed=False)


def _staged_rows(
    job_id: str, client_id: str, first_position: int, payloads: list[bytes]
) -> list[dict[str, Any]]:
    return [
        {
            "job_id": job_id,
            "position": first_position + offset,
            "client_id": client_id,
            "payload": payload.decode(),
        }
        for offset, payload in enumerate(payloads)
    ]


async def append_records(
    session: AsyncSession, principal: Principal, job_id: str, records: list[Any], max_records: int
) -> bool:
    """Add records to the end of one of the tenant's jobs that no worker has claimed yet (the
    caller commits); False, with nothing written, when a worker claimed it meanwhile or the job
    would then hold more than max_records. The guarded counter update orders this against the
    claim, which reads the job's records only after it commits."""
    payloads, _ = serialise_records(records)
    tenant = principal.tenant
    received = await session.scalar(
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
        .returning(IngestJob.received)
    )
    if received is None:
        return False
    rows = _staged_rows(job_id, tenant.client_id, received - len(payloads), payloads)
    await session.execute(STAGE_RECORDS, rows)
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
    async with services.sessions() as session, session.begin():
        accepted = await accept_ingest(
            session, principal, request, services.settings.max_records_per_call
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
