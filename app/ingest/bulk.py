"""Bulk import: an NDJSON stream (one record per line) becomes one job, read and persisted in
batches as it arrives, so memory stays flat however long the stream is.

While the stream is received the job is QUEUED but not dispatched, and its `received` and
`quarantined` counters grow batch by batch; when the stream ends it is dispatched like any other
job. Record positions are line numbers minus one (blank lines count, hold no record), so a record
error's index names its line. A line that cannot be staged (not JSON, over the per-record limit,
repeating a key, cut off at the end of the stream) is a record error with its line number; its
neighbours are kept. A stream that does not end (the client went away or stopped sending, a limit
was crossed) fails its job as a whole: the staged records are dropped, the reason names the last
line received, the idempotency key is freed for the retry, and nothing of it is processed. Should
the API process itself die mid-stream, the job's heartbeat (lease_expires_at, renewed by every
batch) runs out and the tenant's next upload fails it the same way.
"""

import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.db.models import IngestJob, RecordError, StagedRecord
from app.errors import FieldError, GatewayError
from app.ingest.repeated_keys import repeated_key_message
from app.ingest.service import (
    IngestAccepted,
    IngestRequest,
    StagedRow,
    canonical_record,
    check_envelope,
    check_mapping,
    find_by_idempotency_key,
    fingerprint,
    new_job,
    record_byte_limit,
    replay,
    stage_records,
    staged_row,
)
from app.ingest.streams import UploadInterrupted
from app.jobs.models import JobStatus
from app.privacy.staged_subjects import Subject
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Principal

NDJSON_MEDIA_TYPE = "application/x-ndjson"
RECEIVING_HASH = ""  # a job still being received has no request hash yet
log = structlog.get_logger("gateway.ingest.bulk")


@dataclass(frozen=True)
class BulkLimits:
    max_records: int
    max_record_bytes: int
    batch_records: int

    @classmethod
    def of(cls, settings: Settings, entity: Entity) -> "BulkLimits":
        record_bytes = record_byte_limit(settings.max_record_bytes, entity)
        return cls(settings.max_bulk_records, record_bytes, settings.bulk_batch_records)


@dataclass(frozen=True)
class LineError:
    line: int
    code: str
    message: str


class LineSplitter:
    """Complete lines out of arbitrary chunks. A line growing past the record limit stops being
    buffered at once and is reported as too large when it ends."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max = max_line_bytes
        self._partial = bytearray()
        self._oversize = False
        self.line_number = 0

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes | None]]:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            yield self._complete(chunk[start:end])
            start = end + 1
        self._grow(chunk[start:])

    def finish(self) -> tuple[int, bytes | None] | None:
        """The last line, when the stream did not end with a newline."""
        if not self._partial and not self._oversize:
            return None
        return self._complete(b"")

    def _complete(self, tail: bytes) -> tuple[int, bytes | None]:
        self.line_number += 1
        line: bytes | None = None
        if not self._oversize and len(self._partial) + len(tail) <= self._max:
            line = bytes(self._partial) + tail if self._partial else tail
        self._partial.clear()
        self._oversize = False
        return self.line_number, line

    def _grow(self, tail: bytes) -> None:
        if self._oversize:
            return
        if len(self._partial) + len(tail) > self._max:
            self._oversize = True
            self._partial.clear()
            return
        self._partial += tail


def parse_line(
    number: int, line: bytes | None, limits: BulkLimits, audience: bool
) -> tuple[bytes, Subject] | LineError | None:
    """A line as the canonical JSON the job stages (sorted keys, as every door stages records)
    and whom it names (see canonical_form), a LineError, or None for a blank line."""
    if line is None:
        return LineError(
            number,
            "record_too_large",
            f"Line {number} is longer than {limits.max_record_bytes:,} bytes, the limit for one "
            "record.",
        )
    text = line.strip()
    if not text:
        return None
    try:
        canonical, subject, key = canonical_record(text, audience)
    except orjson.JSONDecodeError as error:
        return LineError(number, "malformed_json", f"Line {number} is not valid JSON: {error}.")
    if key is not None:
        return LineError(number, "duplicate_key", repeated_key_message(key, f"Line {number}"))
    return canonical, subject


@dataclass
class _Batch:
    """What was read since the last flush."""

    staged: list[StagedRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.staged) + len(self.errors)


@dataclass
class _Reading:
    """One stream's progress: the records hash, counts, and the batch not yet flushed."""

    audience: bool = False  # audience rows keep the email and id they name (for erasure)
    records: int = 0
    quarantined: int = 0
    last_line: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    batch: _Batch = field(default_factory=_Batch)

    def take(
        self,
        number: int,
        parsed: tuple[bytes, Subject] | LineError | None,
        job_id: str,
        client: str,
    ) -> None:
        self.last_line = number
        if parsed is None:
            return
        self.records += 1
        if isinstance(parsed, LineError):
            self.quarantined += 1
            self.digest.update(f"line {number} {parsed.code}".encode())
            self.batch.errors.append(parsed)
        else:
            canonical, subject = parsed
            self.digest.update(canonical)
            self.batch.staged.append(staged_row(job_id, number - 1, client, canonical, subject))
        self.digest.update(b"\n")


def _too_many_records(limit: int) -> GatewayError:
    message = (
        f"The stream holds more than {limit:,} records, the most one bulk import takes; split it."
    )
    return GatewayError(
        "invalid_envelope", message, errors=[FieldError("too_many_records", message, ())]
    )


def _empty_stream() -> GatewayError:
    message = "The stream holds no records: send one JSON object per line."
    return GatewayError(
        "invalid_envelope", message, errors=[FieldError("empty_records", message, ())]
    )


async def import_ndjson(
    services: Services,
    principal: Principal,
    request: IngestRequest,
    chunks: AsyncIterator[bytes],
) -> IngestAccepted:
    """Read the stream into one job and dispatch it; `request.records` is not used."""
    check_envelope(replace(request, records=[None]), max_records=1)  # the key's length
    check_mapping(request)
    limits = BulkLimits.of(services.settings, request.entity)
    job = await _open_job(services, principal, request)
    if job is None:  # the key was used before: read the stream only to compare it
        return await _replay_stream(services, principal, request, chunks, limits)
    reading = _Reading(audience=request.entity is Entity.AUDIENCE)
    try:
        async for _ in _read(chunks, limits, reading, job.id, job.client_id):
            await _flush(services, job, reading)
    except BaseException as error:  # interrupted, refused or not stored: failed, visibly
        await _fail(services, job, reading, error)
        raise
    if reading.records == 0:
        await _discard(services, job)
        raise _empty_stream()
    await _seal(services, job, request, reading)
    await services.dispatcher.dispatch([job.id])
    log.info(
        "ingest.bulk_accepted",
        job_id=job.id,
        entity=request.entity.value,
        records=reading.records,
        line_errors=reading.quarantined,
    )
    return IngestAccepted(job=job, replayed=False)


async def _open_job(
    services: Services, principal: Principal, request: IngestRequest
) -> IngestJob | None:
    """The job, committed at once so its counters can be followed; None when the idempotency key
    already names another job."""
    job = new_job(principal, request, RECEIVING_HASH, received=0)
    job.dispatched_at = None  # never picked up (nor swept) before the stream has ended
    job.lease_expires_at = _heartbeat(services.settings)
    try:
        async with services.sessions() as session, session.begin():
            await _fail_abandoned(session, job)
            if request.idempotency_key is not None and await find_by_idempotency_key(
                session, principal, request.idempotency_key
            ):
                return None
            session.add(job)
    except IntegrityError:
        if request.idempotency_key is None:
            raise
        return None  # a concurrent call with the same key won the race
    return job


async def _read(
    chunks: AsyncIterator[bytes],
    limits: BulkLimits,
    reading: _Reading,
    job_id: str,
    client_id: str,
) -> AsyncIterator[None]:
    """Reads the stream into `reading`, yielding each time a batch is due and once at the end."""
    splitter = LineSplitter(limits.max_record_bytes)
    async for chunk in chunks:
        for number, line in splitter.feed(chunk):
            parsed = parse_line(number, line, limits, reading.audience)
            reading.take(number, parsed, job_id, client_id)
            if reading.records > limits.max_records:
                raise _too_many_records(limits.max_records)
            if len(reading.batch) >= limits.batch_records:
                yield None
    last = splitter.finish()
    if last is not None:
        number, line = last
        parsed = parse_line(number, line, limits, reading.audience)
        if isinstance(parsed, LineError) and parsed.code == "malformed_json":
            parsed = LineError(
                number,
                "truncated_line",
                f"Line {number}, the last, is cut off: the stream ended inside it (no newline and "
                "not valid JSON). Send it again in another request.",
            )
        reading.take(number, parsed, job_id, client_id)
        if reading.records > limits.max_records:
            raise _too_many_records(limits.max_records)
    yield None


async def _flush(services: Services, job: IngestJob, reading: _Reading) -> None:
    batch, reading.batch = reading.batch, _Batch()
    if not batch:
        return
    async with services.sessions() as session, session.begin():
        if batch.staged:
            await stage_records(session, batch.staged)
        if batch.errors:
            await session.execute(insert(RecordError), _error_rows(job, batch.errors))
        still_receiving = await session.execute(
            update(IngestJob)
            .where(_receiving(), IngestJob.id == job.id)
            .values(
                received=IngestJob.received + len(batch),
                quarantined=IngestJob.quarantined + len(batch.errors),
                lease_expires_at=_heartbeat(services.settings),
            )
        )
        if still_receiving.rowcount != 1:  # type: ignore[attr-defined]
            raise GatewayError("upload_abandoned", "The upload was stopped as abandoned.")


def _error_rows(job: IngestJob, errors: list[LineError]) -> list[dict[str, Any]]:
    return [
        {
            "job_id": job.id,
            "client_id": job.client_id,
            "position": error.line - 1,
            "external_id": None,
            "code": error.code,
            "path": "",
            "message": error.message,
        }
        for error in errors
    ]


async def _seal(
    services: Services, job: IngestJob, request: IngestRequest, reading: _Reading
) -> None:
    """The stream ended: the job gets its request hash and final counts, and is dispatched."""
    now = datetime.now(UTC)
    job.request_hash = fingerprint(request, reading.digest.hexdigest())
    job.received, job.quarantined, job.dispatched_at = reading.records, reading.quarantined, now
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(IngestJob)
            .where(IngestJob.id == job.id)
            .values(request_hash=job.request_hash, dispatched_at=now, lease_expires_at=None)
        )


async def _fail(
    services: Services, job: IngestJob, reading: _Reading, error: BaseException
) -> None:
    reason = _failure_reason(error, reading.last_line, reading.records)
    log.warning("ingest.bulk_failed", job_id=job.id, reason=reason)
    now = datetime.now(UTC)
    job.status, job.failure_reason, job.finished_at = JobStatus.FAILED.value, reason, now
    job.idempotency_key = None
    async with services.sessions() as session, session.begin():
        await session.execute(delete(StagedRecord).where(StagedRecord.job_id == job.id))
        await session.execute(
            update(IngestJob)
            .where(IngestJob.id == job.id)
            .values(
                status=JobStatus.FAILED.value,
                failure_reason=reason,
                finished_at=now,
                idempotency_key=None,  # the retry may use the same key
                lease_expires_at=None,
            )
        )


def _receiving() -> Any:
    return (IngestJob.status == JobStatus.QUEUED.value) & IngestJob.dispatched_at.is_(None)


def _heartbeat(settings: Settings) -> datetime:
    """Until when a job being received counts as alive: renewed by every batch. A batch arrives
    at least every upload_idle_timeout_seconds, or the upload is failed by its own process."""
    return datetime.now(UTC) + timedelta(seconds=2 * settings.upload_idle_timeout_seconds + 30)


async def _fail_abandoned(session: AsyncSession, opening: IngestJob) -> None:
    """Uploads of this tenant whose API process went away mid-stream (no heartbeat) are failed
    when the tenant's next upload begins: its retry, usually."""
    abandoned = list(
        await session.scalars(
            select(IngestJob.id).where(
                _receiving(),
                IngestJob.client_id == opening.client_id,
                IngestJob.livemode == opening.livemode,
                IngestJob.lease_expires_at < datetime.now(UTC),
            )
        )
    )
    if not abandoned:
        return
    await session.execute(delete(StagedRecord).where(StagedRecord.job_id.in_(abandoned)))
    await session.execute(
        update(IngestJob)
        .where(IngestJob.id.in_(abandoned))
        .values(
            status=JobStatus.FAILED.value,
            failure_reason="The upload stopped arriving (the gateway process receiving it went "
            "away); nothing of it was processed. Send the whole stream again.",
            finished_at=datetime.now(UTC),
            idempotency_key=None,
            lease_expires_at=None,
        )
    )


def _failure_reason(error: BaseException, last_line: int, records: int) -> str:
    where = f"after line {last_line:,} ({records:,} records read)"
    if isinstance(error, UploadInterrupted):
        cause = f"The upload was interrupted ({error.reason})"
    elif isinstance(error, GatewayError):
        code = error.errors[0].code if error.errors else error.code
        cause = f"The upload was refused ({code}: {error.message})"
    else:
        cause = "The upload could not be stored"
    return f"{cause} {where}; nothing of it was processed. Send the whole stream again."


async def _discard(services: Services, job: IngestJob) -> None:
    async with services.sessions() as session, session.begin():
        await session.execute(delete(IngestJob).where(IngestJob.id == job.id))


async def _replay_stream(
    services: Services,
    principal: Principal,
    request: IngestRequest,
    chunks: AsyncIterator[bytes],
    limits: BulkLimits,
) -> IngestAccepted:
    """The same key again: the stream is read (and dropped) to compare it with the first one."""
    reading = _Reading()
    async for _ in _read(chunks, limits, reading, "", ""):  # nothing is stored
        reading.batch = _Batch()
    request_hash = fingerprint(request, reading.digest.hexdigest())
    assert request.idempotency_key is not None
    async with services.sessions() as session:
        earlier = await find_by_idempotency_key(session, principal, request.idempotency_key)
    if earlier is None:  # the first upload failed in the meantime and freed the key
        raise _still_receiving(request.idempotency_key)
    if earlier.request_hash == RECEIVING_HASH:
        raise _still_receiving(request.idempotency_key)
    return replay(earlier, request_hash)


def _still_receiving(key: str) -> GatewayError:
    message = (
        "A request with this idempotencyKey is still being received (or just failed); retry "
        "once it has finished."
    )
    return GatewayError(
        "idempotency_conflict",
        message,
        kind="conflict",
        errors=[FieldError("idempotency_conflict", message, ("idempotencyKey",))],
    )
