"""Reading stored runs and their mismatches (operators), and a client's latest runs (viewer)."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor
from app.reconciliation.models import ReconciliationMismatch, ReconciliationRun
from app.tenancy.models import Tenant


async def list_runs(
    session: AsyncSession, tenant: Tenant, entity: Entity | None, first: int, after: str | None
) -> Page[ReconciliationRun]:
    """Newest first (run ids sort by time)."""
    check_page_size(first)
    run = ReconciliationRun
    query = select(run).where(run.client_id == tenant.client_id, run.livemode == tenant.livemode)
    if entity is not None:
        query = query.where(run.entity == entity.value)
    if after is not None:
        query = query.where(run.id < decode_cursor(after))
    found = list(await session.scalars(query.order_by(run.id.desc()).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(page[-1].id) if page else None, len(found) > first)


async def get_run(session: AsyncSession, livemode: bool, run_id: str) -> ReconciliationRun | None:
    """Any client's run in the operator key's mode; None when there is none."""
    run = ReconciliationRun
    found: ReconciliationRun | None = await session.scalar(
        select(run).where(run.id == run_id, run.livemode == livemode)
    )
    return found


async def list_mismatches(
    session: AsyncSession, run: ReconciliationRun, first: int, after: str | None
) -> Page[ReconciliationMismatch]:
    check_page_size(first)
    mismatch = ReconciliationMismatch
    query = select(mismatch).where(
        mismatch.run_id == run.id,
        mismatch.client_id == run.client_id,
        mismatch.livemode == run.livemode,
    )
    if after is not None:
        query = query.where(mismatch.id > decode_cursor(after))
    found = list(await session.scalars(query.order_by(mismatch.id).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(page[-1].id) if page else None, len(found) > first)


async def latest_runs(session: AsyncSession, tenant: Tenant) -> list[ReconciliationRun]:
    """The latest run per entity, in entity order."""
    run = ReconciliationRun
    latest = (
        select(func.max(run.id))
        .where(run.client_id == tenant.client_id, run.livemode == tenant.livemode)
        .group_by(run.entity)
    )
    found = await session.scalars(select(run).where(run.id.in_(latest)).order_by(run.entity))
    return list(found)
