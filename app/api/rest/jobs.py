"""GET /jobs, /jobs/{id} and /jobs/{id}/errors: the same `app.jobs.service` reads GraphQL's
`job` and `jobs` use, always within the caller's tenant (another client's job is a plain 404)."""

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter, ParameterKwarg

from app.api.rest import openapi
from app.api.rest.schemas import (
    ERRORS_ON_JOB,
    JobDetail,
    JobList,
    RecordErrorList,
    job_body,
    job_detail,
    page_info,
    record_error,
)
from app.contracts.entities import Entity
from app.db.engine import reading
from app.errors import FieldError, GatewayError
from app.jobs import service as jobs
from app.jobs.models import JobStatus
from app.pagination import MAX_PAGE_SIZE
from app.services import Services
from app.tenancy.models import Principal

JobId = Annotated[str, Parameter(description="The job id returned by an ingest call.")]
First = Annotated[
    int,
    Parameter(
        description=f"Page size, 1 to {MAX_PAGE_SIZE}.",
        schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
After = Annotated[
    str | None, openapi.optional_string("The `page_info.end_cursor` of the previous page.")
]


def _only(description: str, values: type[StrEnum]) -> ParameterKwarg:
    return openapi.optional_string(description, enum=[value.value for value in values])


E = TypeVar("E", bound=StrEnum)
_PAGE_PARAMS = {"invalid_page_size": "first", "invalid_cursor": "after"}


def _invalid_parameter(name: str, message: str) -> GatewayError:
    return GatewayError(
        "invalid_parameter", message, errors=[FieldError("invalid_parameter", message, (name,))]
    )


def single_values(request: Request[Any, Any, Any]) -> None:
    """Each query parameter at most once: a repeated one is refused, never half-applied."""
    for name in request.query_params:
        if len(request.query_params.getall(name)) > 1:
            raise _invalid_parameter(name, f"{name}: give this query parameter at most once.")


def only_value(request: Request[Any, Any, Any], name: str, values: type[E]) -> E | None:
    """An enum filter as sent: absent is no filter; anything else must be one of the values
    (so `?status=null` is refused rather than read as "no filter")."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return values(raw)
    except ValueError:
        allowed = ", ".join(value.value for value in values)
        raise _invalid_parameter(name, f"{name}: {raw!r} is not one of {allowed}.") from None


@contextmanager
def paging_parameters() -> Iterator[None]:
    """Name the offending query parameter on the service's paging errors."""
    try:
        yield
    except GatewayError as error:
        param = _PAGE_PARAMS.get(error.code)
        if param is not None and not error.errors:
            error.errors = [FieldError(error.code, error.message, (param,))]
        raise


@get(
    "/jobs/{id:str}",
    name="getJob",
    operation_id="getJob",
    tags=["jobs"],
    summary="Read one job",
    response_description="The job.",
    description=f"The job with its counters and its first {ERRORS_ON_JOB} record errors "
    "(`errors_next_cursor` pages on at /jobs/{id}/errors).",
    responses={401: openapi.UNAUTHORIZED, 404: openapi.NOT_FOUND},
    operation_class=openapi.documented(
        examples={"200": {"partially_succeeded": openapi.FINISHED_JOB_EXAMPLE}}
    ),
)
async def get_job(
    id: JobId, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> JobDetail:
    async with reading(services.sessions) as session:
        job = await jobs.get_job(session, principal.tenant, id)
        errors = await jobs.list_record_errors(
            session, principal.tenant, job.id, ERRORS_ON_JOB, None
        )
    return job_detail(job, errors)


@get(
    "/jobs/{id:str}/errors",
    name="listJobErrors",
    operation_id="listJobErrors",
    tags=["jobs"],
    summary="Page through a job's record errors",
    response_description="One page of record errors.",
    responses={400: openapi.BAD_PAGE, 401: openapi.UNAUTHORIZED, 404: openapi.NOT_FOUND},
    operation_class=openapi.documented(
        examples={"200": {"record_errors": openapi.RECORD_ERROR_LIST_EXAMPLE}}
    ),
)
async def list_job_errors(
    request: Request[Any, Any, Any],
    id: JobId,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    first: First = 100,
    after: After = None,
) -> RecordErrorList:
    single_values(request)
    async with reading(services.sessions) as session:
        job = await jobs.get_job(session, principal.tenant, id)
        with paging_parameters():
            page = await jobs.list_record_errors(session, principal.tenant, job.id, first, after)
    return RecordErrorList(
        data=[record_error(row) for row in page.items], page_info=page_info(page)
    )


@get(
    "/jobs",
    name="listJobs",
    operation_id="listJobs",
    tags=["jobs"],
    summary="List jobs, newest first",
    response_description="One page of jobs.",
    description="Cursor pagination: pass `page_info.end_cursor` as `after` while "
    "`page_info.has_next_page` is true. Record errors are on each job's own page.",
    responses={400: openapi.BAD_PAGE, 401: openapi.UNAUTHORIZED},
    operation_class=openapi.documented(examples={"200": {"jobs": openapi.JOB_LIST_EXAMPLE}}),
)
async def list_jobs(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    first: First = 50,
    after: After = None,
    status: Annotated[JobStatus | None, _only("Only jobs in this status.", JobStatus)] = None,
    entity: Annotated[Entity | None, _only("Only jobs of this entity.", Entity)] = None,
) -> JobList:
    # The declared filters document the parameters; the values are read as sent (see only_value).
    single_values(request)
    status = only_value(request, "status", JobStatus)
    entity = only_value(request, "entity", Entity)
    async with reading(services.sessions) as session:
        with paging_parameters():
            page = await jobs.list_jobs(session, principal.tenant, first, after, status, entity)
    return JobList(data=[job_body(job) for job in page.items], page_info=page_info(page))


JOB_HANDLERS = [get_job, list_job_errors, list_jobs]
