"""REST bodies. Field names are snake_case, as in the JSON Schema contract (GraphQL is camelCase).
The structs feed litestar's OpenAPI; `job_body` and `job_detail` are where a job is shaped."""

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from app.contracts.entities import Entity
from app.db.models import IngestJob
from app.db.models import RecordError as RecordErrorRow
from app.jobs.models import Door, JobStatus
from app.jobs.service import request_path
from app.pagination import Page

ERRORS_ON_JOB = 100
"""How many record errors GET /jobs/{id} carries; the rest are at /jobs/{id}/errors."""


class JobCounters(Struct, kw_only=True):
    """Counts of what happened to a job's records."""

    received: Annotated[int, Meta(description="Records in the request.")]
    valid: Annotated[int, Meta(description="Records that passed validation.")]
    quarantined: Annotated[int, Meta(description="Records held back with errors.")]
    unchanged: Annotated[int, Meta(description="Valid records identical to what is stored.")]
    stale: Annotated[
        int,
        Meta(
            description="Valid records older (source_updated_at) than what is stored: not applied."
        ),
    ]
    written: Annotated[int, Meta(description="Records stored as new or changed.")]
    held: Annotated[
        int,
        Meta(
            description="Valid WooCommerce variations waiting for their parent product, applied "
            "when it is stored; nothing written yet."
        ),
    ]
    processed: Annotated[int, Meta(description="Records the worker has gone through so far.")]


class RecordError(Struct, kw_only=True):
    """Why one record of a job was quarantined."""

    index: Annotated[int, Meta(description="Position of the record in the request, from 0.")]
    external_id: Annotated[str | None, Meta(description="The record's external_id, if it had one.")]
    code: Annotated[str, Meta(description="Stable, machine-readable error code.")]
    message: Annotated[str, Meta(description="What is wrong and what to do about it.")]
    path: Annotated[
        str, Meta(description="Field path in the request, e.g. records[3].price.amount.")
    ]


class Job(Struct, kw_only=True):
    """An ingest job: one call's records on their way into the store."""

    id: Annotated[str, Meta(description="The job id; GET /jobs/{id} reads it.")]
    entity: Entity
    status: JobStatus
    door: Annotated[Door, Meta(description="How the records reached the gateway.")]
    counters: JobCounters
    idempotency_key: Annotated[
        str | None, Meta(description="The Idempotency-Key the job was created with.")
    ]
    request_id: Annotated[str | None, Meta(description="X-Request-ID of the call that made it.")]
    attempts: Annotated[int, Meta(description="How many times a worker has picked it up.")]
    failure_reason: Annotated[
        str | None,
        Meta(description="Why the last attempt failed, when one did (the job is retried)."),
    ]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobDetail(Job, kw_only=True):
    """A job with the first record errors; page through the rest at /jobs/{id}/errors."""

    errors: Annotated[
        list[RecordError],
        Meta(description=f"The first {ERRORS_ON_JOB} record errors, in request order."),
    ]
    errors_next_cursor: Annotated[
        str | None,
        Meta(
            description="Pass as `after` to GET /jobs/{id}/errors for the next errors; null "
            "when there are no more."
        ),
    ]


class PageInfo(Struct, kw_only=True):
    end_cursor: Annotated[str | None, Meta(description="Pass as `after` to get the next page.")]
    has_next_page: bool


class JobList(Struct, kw_only=True):
    """Jobs, newest first."""

    data: list[Job]
    page_info: PageInfo


class RecordErrorList(Struct, kw_only=True):
    """A job's record errors, in request order."""

    data: list[RecordError]
    page_info: PageInfo


class FieldProblem(Struct, kw_only=True):
    code: Annotated[str, Meta(description="Stable, machine-readable error code.")]
    message: Annotated[str, Meta(description="What is wrong and what to do about it.")]
    path: Annotated[
        str,
        Meta(
            description="Where: a body path such as records[3].price.amount, a parameter or "
            "header name, or empty for the body as a whole."
        ),
    ]


class ErrorDetail(Struct, kw_only=True):
    type: Annotated[
        str,
        Meta(
            description="invalid_request, authentication, permission, not_found, conflict, "
            "rate_limited or api_error."
        ),
    ]
    code: Annotated[str, Meta(description="Stable, machine-readable error code.")]
    message: Annotated[str, Meta(description="What is wrong and what to do about it.")]
    param: Annotated[
        str | None, Meta(description="The first offending field, parameter or header, if any.")
    ]
    request_id: Annotated[
        str | None, Meta(description="Quote it when reporting a problem (X-Request-ID).")
    ]
    errors: Annotated[
        list[FieldProblem], Meta(description="Every problem found, each with its path.")
    ] = msgspec.field(default_factory=list)


class ErrorResponse(Struct, kw_only=True):
    """The one error shape of every HTTP answer that is not a success."""

    error: ErrorDetail


def job_body(job: IngestJob) -> Job:
    return msgspec.convert(_job_fields(job), Job)


def job_detail(job: IngestJob, errors: Page[RecordErrorRow]) -> JobDetail:
    fields = _job_fields(job) | {
        "errors": [record_error(row) for row in errors.items],
        "errors_next_cursor": errors.end_cursor if errors.has_next_page else None,
    }
    return msgspec.convert(fields, JobDetail)


def _job_fields(job: IngestJob) -> dict[str, Any]:
    """The row's columns by the struct's field names (they are the same names); converting
    checks every one and turns the stored strings into the domain enums."""
    fields = {name: getattr(job, name) for name in Job.__struct_fields__ if name != "counters"}
    fields["counters"] = {name: getattr(job, name) for name in JobCounters.__struct_fields__}
    return fields


def record_error(row: RecordErrorRow) -> RecordError:
    return RecordError(
        index=row.position,
        external_id=row.external_id,
        code=row.code,
        message=row.message,
        path=request_path(row),
    )


def page_info(page: Page[Any]) -> PageInfo:
    return PageInfo(end_cursor=page.end_cursor, has_next_page=page.has_next_page)
