"""An index of the cells upserts merge on, so performUpsert finds its matches by an indexed lookup
instead of reading the table.

A field is indexed from the first upsert that merges on it (`ensure`): its text cells are copied
into `airtable_merge_keys` (table, field, text → record), and from then on every write to the
table keeps its keys current (`refresh`, in the request's transaction); a deleted record takes its
keys with it (foreign key, on delete cascade). Only texts stored as written and up to
`MAX_TEXT` characters are indexed: a longer text to match falls back to the scan of
`store.merge_candidates`, so the index only ever narrows a read, never decides a match.

Indexing a field takes the table's row FOR UPDATE, and keeping keys current takes it FOR KEY SHARE
(writes do not wait for each other, only for an indexing): a record written while its field is
being indexed is either seen by the copy or sees the field indexed.
"""

from collections.abc import Collection, Sequence
from typing import Any, TypeGuard, cast

from sqlalchemy import ForeignKey, PrimaryKeyConstraint, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base
from app.sandbox.airtable import store
from app.sandbox.airtable.models import SandboxRecord, SandboxTable
from app.tenancy.models import Tenant

MAX_TEXT = 255


class MergeField(Base):
    """A field some upsert merged on: its cells are in the index."""

    __tablename__ = "airtable_merge_fields"
    __table_args__ = (PrimaryKeyConstraint("table_id", "field_id"),)

    table_id: Mapped[str] = mapped_column(
        ForeignKey("airtable_tables.id", ondelete="CASCADE"), doc="Its table"
    )
    field_id: Mapped[str] = mapped_column(String(17))
    client_id: Mapped[str] = mapped_column(String(40))


class MergeKey(Base):
    """One indexed cell: the text a record holds in an indexed field."""

    __tablename__ = "airtable_merge_keys"
    __table_args__ = (PrimaryKeyConstraint("table_id", "field_id", "value", "record_id"),)

    table_id: Mapped[str] = mapped_column(String(17))
    field_id: Mapped[str] = mapped_column(String(17))
    value: Mapped[str] = mapped_column(String(MAX_TEXT))
    record_id: Mapped[str] = mapped_column(
        ForeignKey("airtable_records.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(40))


def indexable(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT


async def _lock_table(session: AsyncSession, table: SandboxTable, exclusive: bool) -> None:
    query = select(SandboxTable.id).where(SandboxTable.id == table.id)
    await session.execute(
        query.with_for_update() if exclusive else query.with_for_update(key_share=True)
    )


async def indexed_fields(
    session: AsyncSession, tenant: Tenant, table: SandboxTable, lock: bool = False
) -> set[str]:
    if lock:
        await _lock_table(session, table, exclusive=False)
    found = await session.scalars(
        select(MergeField.field_id).where(
            MergeField.client_id == tenant.client_id, MergeField.table_id == table.id
        )
    )
    return set(found)


async def ensure(
    session: AsyncSession, tenant: Tenant, table: SandboxTable, field_ids: Collection[str]
) -> None:
    """Index these fields of the table, copying the cells of its records the first time."""
    missing = set(field_ids) - await indexed_fields(session, tenant, table)
    if not missing:
        return
    await _lock_table(session, table, exclusive=True)
    missing -= await indexed_fields(session, tenant, table)  # indexed meanwhile
    if not missing:
        return
    records = await session.execute(
        select(SandboxRecord.id, SandboxRecord.fields).where(
            SandboxRecord.client_id == tenant.client_id, SandboxRecord.table_id == table.id
        )
    )
    keys = [
        _key(tenant, table, field_id, value, record_id)
        for record_id, cells in records
        for field_id in missing
        if indexable(value := cells.get(field_id))
    ]
    await _insert(session, MergeKey, keys)
    marks = [{"table_id": table.id, "field_id": f, "client_id": tenant.client_id} for f in missing]
    await _insert(session, MergeField, marks)


async def refresh(
    session: AsyncSession, tenant: Tenant, table: SandboxTable, records: Sequence[SandboxRecord]
) -> None:
    """After a write: the written records' keys as their cells now stand."""
    if not records:
        return
    indexed = await indexed_fields(session, tenant, table, lock=True)
    if not indexed:
        return
    await session.flush()  # new records exist before keys point at them
    ids = [record.id for record in records]  # by record id alone: not the table's whole key range
    await session.execute(
        delete(MergeKey)
        .where(MergeKey.client_id == tenant.client_id, MergeKey.record_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    keys = [
        _key(tenant, table, field_id, value, record.id)
        for record in {r.id: r for r in records}.values()
        for field_id in indexed
        if indexable(value := record.fields.get(field_id))
    ]
    await _insert(session, MergeKey, keys)


async def candidates(
    session: AsyncSession,
    tenant: Tenant,
    table: SandboxTable,
    field_id: str,
    texts: Collection[str],
) -> list[SandboxRecord]:
    """The table's records whose indexed `field_id` holds one of `texts`: two lookups by key
    (the index, then the records by id), whatever the planner thinks of the tables' sizes."""
    found = await session.scalars(
        select(MergeKey.record_id).where(
            MergeKey.table_id == table.id,
            MergeKey.field_id == field_id,
            MergeKey.value.in_(texts),
            MergeKey.client_id == tenant.client_id,
        )
    )
    ids = set(found)
    if not ids:
        return []
    return await store.records_of(session, tenant, table.id, ids)


def _key(
    tenant: Tenant, table: SandboxTable, field_id: str, value: str, record_id: str
) -> dict[str, Any]:
    return {
        "table_id": table.id,
        "field_id": field_id,
        "value": value,
        "record_id": record_id,
        "client_id": tenant.client_id,
    }


async def _insert(
    session: AsyncSession, model: type[MergeKey] | type[MergeField], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    await session.execute(statement.on_conflict_do_nothing(), rows)
