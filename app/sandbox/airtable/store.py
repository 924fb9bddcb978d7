"""Queries over the sandbox tables, each scoped to the calling tenant: another client's base
is indistinguishable from one that does not exist."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.sandbox.airtable.errors import model_not_found
from app.sandbox.airtable.models import SandboxBase, SandboxRecord, SandboxTable
from app.tenancy.models import Tenant


async def get_base(session: AsyncSession, tenant: Tenant, base_id: str) -> SandboxBase:
    base = await session.scalar(
        select(SandboxBase).where(
            SandboxBase.id == base_id, SandboxBase.client_id == tenant.client_id
        )
    )
    if base is None:
        raise model_not_found()
    return base


async def bases_of(session: AsyncSession, tenant: Tenant) -> Sequence[SandboxBase]:
    return (
        await session.scalars(
            select(SandboxBase)
            .where(SandboxBase.client_id == tenant.client_id)
            .order_by(SandboxBase.created_at, SandboxBase.id)
        )
    ).all()


async def tables_of(session: AsyncSession, tenant: Tenant, base_id: str) -> Sequence[SandboxTable]:
    await get_base(session, tenant, base_id)
    return (
        await session.scalars(
            select(SandboxTable)
            .where(SandboxTable.client_id == tenant.client_id, SandboxTable.base_id == base_id)
            .order_by(SandboxTable.position)
        )
    ).all()


def pick_table(tables: Sequence[SandboxTable], id_or_name: str) -> SandboxTable:
    for table in tables:
        if id_or_name in (table.id, table.name):
            return table
    raise model_not_found()


@dataclass(frozen=True)
class TableRef:
    """A table as the records API names it: a base id and the table's id or name."""

    base_id: str
    id_or_name: str


async def get_table(session: AsyncSession, tenant: Tenant, ref: TableRef) -> SandboxTable:
    return pick_table(await tables_of(session, tenant, ref.base_id), ref.id_or_name)


async def records_of(
    session: AsyncSession, tenant: Tenant, table_id: str, ids: Collection[str] | None = None
) -> list[SandboxRecord]:
    """The table's records in creation order (all of them, or those with the given ids)."""
    query = select(SandboxRecord).where(
        SandboxRecord.client_id == tenant.client_id, SandboxRecord.table_id == table_id
    )
    if ids is not None:
        query = query.where(SandboxRecord.id.in_(ids))
    query = query.order_by(SandboxRecord.position, SandboxRecord.id)
    return list((await session.scalars(query)).all())


async def merge_candidates(
    session: AsyncSession,
    tenant: Tenant,
    table_id: str,
    allowed: Mapping[str, Collection[str]],
) -> list[SandboxRecord]:
    """The table's records whose cells (by field id) hold one of the allowed texts.

    JSON extraction compares text exactly on SQLite and PostgreSQL, so no record holding an
    allowed text is missed; a cell holding a number can come back too (its text is compared),
    which the caller's own comparison of the stored values settles."""
    query = select(SandboxRecord).where(
        SandboxRecord.client_id == tenant.client_id, SandboxRecord.table_id == table_id
    )
    for field_id, texts in allowed.items():
        query = query.where(SandboxRecord.fields[field_id].as_string().in_(texts))
    query = query.order_by(SandboxRecord.position, SandboxRecord.id)
    return list((await session.scalars(query)).all())


async def records_from(
    session: AsyncSession, tenant: Tenant, table_id: str, first: SandboxRecord | None, limit: int
) -> list[SandboxRecord]:
    """Up to `limit` of the table's records in creation order, from `first` on (or the start)."""
    query = select(SandboxRecord).where(
        SandboxRecord.client_id == tenant.client_id, SandboxRecord.table_id == table_id
    )
    if first is not None:
        query = query.where(
            or_(
                SandboxRecord.position > first.position,
                and_(SandboxRecord.position == first.position, SandboxRecord.id >= first.id),
            ),
        )
    query = query.order_by(SandboxRecord.position, SandboxRecord.id).limit(limit)
    return list((await session.scalars(query)).all())


async def count_before(session: AsyncSession, tenant: Tenant, record: SandboxRecord) -> int:
    """How many records of the table come before `record` in creation order."""
    count = await session.scalar(
        select(func.count()).where(
            SandboxRecord.client_id == tenant.client_id,
            SandboxRecord.table_id == record.table_id,
            or_(
                SandboxRecord.position < record.position,
                and_(SandboxRecord.position == record.position, SandboxRecord.id < record.id),
            ),
        )
    )
    return int(count or 0)


async def next_position(session: AsyncSession, tenant: Tenant, table_id: str) -> int:
    highest = await session.scalar(
        select(func.max(SandboxRecord.position)).where(
            SandboxRecord.client_id == tenant.client_id, SandboxRecord.table_id == table_id
        )
    )
    return 0 if highest is None else highest + 1
