"""Reading jobs and their record errors, always within the caller's tenant."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.db.models import IngestJob, RecordError
from app.errors import GatewayError, NotFoundError
from app.jobs.models import JobStatus
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor, newest_first
from app.tenancy.models import Tenant


def request_path(row: RecordError) -> str:
    """Where a record error points in the caller's request: records[3].price.amount."""
    field_path = f".{row.path}" if row.path and not row.path.startswith("[") else row.path
    return f"records[{row.position}]{field_path}"


async def get_job(session: AsyncSession, tenant: Tenant, job_id: str) -> IngestJob:
    job = await session.scalar(
        select(IngestJob).where(
            IngestJob.id == job_id,
            IngestJob.client_id == tenant.client_id,
            IngestJob.livemode == tenant.livemode,
        )
    )
    if job is None:
        raise NotFoundError("job")
    return job


async def list_jobs(
    session: AsyncSession,
    tenant: Tenant,
    first: int,
    after: str | None,
    status: JobStatus | None = None,
    entity: Entity | None = None,
) -> Page[IngestJob]:
    query = select(IngestJob).where(
        IngestJob.client_id == tenant.client_id, IngestJob.livemode == tenant.livemode
    )
    if status is not None:
        query = query.where(IngestJob.status == status.value)
    if entity is not None:
        query = query.where(IngestJob.entity == entity.value)
    return await newest_first(session, query, IngestJob.id, first, after)


async def list_record_errors(
    session: AsyncSession, tenant: Tenant, job_id: str, first: int, after: str | None
) -> Page[RecordError]:
    check_page_size(first)
    query = select(RecordError).where(
        RecordError.job_id == job_id, RecordError.client_id == tenant.client_id
    )
    if after is not None:
        try:
            after_id = int(decode_cursor(after))
        except ValueError as error:
            raise GatewayError(
                "invalid_cursor", "The cursor is not one this API returned."
            ) from error
        query = query.where(RecordError.id > after_id)
    found = list(await session.scalars(query.order_by(RecordError.id).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(str(page[-1].id)) if page else None, len(found) > first)
