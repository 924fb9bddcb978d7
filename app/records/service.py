"""The canonical store: one row per (tenant, entity, source platform, external id)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, and_, case, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord
from app.ids import new_id
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor
from app.records.validation import ValidRecord
from app.tenancy.models import Tenant

RecordKey = tuple[str, str]  # (source_platform, external_id)


class Outcome(StrEnum):
    WRITTEN = "written"
    UNCHANGED = "unchanged"
    STALE = "stale"
    HELD = "held"  # a variation waiting for its parent (app.records.variations)


@dataclass
class StoredState:
    content_hash: str
    source_updated_at: datetime
    last_job_id: str


def decide(record: ValidRecord, stored: StoredState | None, job_id: str) -> Outcome:
    """What a valid record does to the store. Re-running a job reaches the same answers."""
    if stored is None:
        return Outcome.WRITTEN
    same_content = stored.content_hash == record.content_hash
    if same_content and stored.last_job_id == job_id:
        return Outcome.WRITTEN
    if record.source_updated_at < stored.source_updated_at:
        return Outcome.STALE
    return Outcome.UNCHANGED if same_content else Outcome.WRITTEN


async def load_states(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: set[RecordKey]
) -> dict[RecordKey, StoredState]:
    """The stored state of each key, one indexed lookup per source platform."""
    table = CanonicalRecord
    states: dict[RecordKey, StoredState] = {}
    for platform in {platform for platform, _ in keys}:
        rows = await session.execute(
            select(
                table.external_id, table.content_hash, table.source_updated_at, table.last_job_id
            ).where(
                table.client_id == tenant.client_id,
                table.livemode == tenant.livemode,
                table.entity == entity.value,
                table.source_platform == platform,
                table.external_id.in_([key for source, key in keys if source == platform]),
            )
        )
        for row in rows:
            states[(platform, row.external_id)] = StoredState(
                row.content_hash, row.source_updated_at, row.last_job_id
            )
    return states


async def upsert(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    job_id: str,
    records: Sequence[ValidRecord],
) -> None:
    """Insert or update; the WHERE clause keeps a newer stored record even under races."""
    if not records:
        return
    now = datetime.now(UTC)
    rows = [_row(tenant, entity, job_id, record, now) for record in records]
    await session.execute(_upsert_statement(session.get_bind().dialect.name), rows)


def _row(
    tenant: Tenant, entity: Entity, job_id: str, record: ValidRecord, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id("rec"),
        "client_id": tenant.client_id,
        "livemode": tenant.livemode,
        "entity": entity.value,
        "source_platform": record.source_platform,
        "external_id": record.external_id,
        "data": record.data,
        "content_hash": record.content_hash,
        "source_updated_at": record.source_updated_at,
        "version": 1,
        "last_job_id": job_id,
        "created_at": now,
        "updated_at": now,
        "sync_pending": True,
    }


def _upsert_statement(dialect_name: str) -> Any:
    table = cast(Table, CanonicalRecord.__table__)
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = dialect_insert(table)
    new = statement.excluded
    changed = new.content_hash != table.c.content_hash
    return statement.on_conflict_do_update(
        index_elements=["client_id", "livemode", "entity", "source_platform", "external_id"],
        set_={
            "data": new.data,
            "content_hash": new.content_hash,
            "source_updated_at": new.source_updated_at,
            "version": table.c.version + case((changed, 1), else_=0),
            "last_job_id": case((changed, new.last_job_id), else_=table.c.last_job_id),
            "updated_at": case((changed, new.updated_at), else_=table.c.updated_at),
            "sync_pending": case((changed, true()), else_=table.c.sync_pending),
        },
        where=or_(
            new.source_updated_at > table.c.source_updated_at,
            and_(new.source_updated_at == table.c.source_updated_at, changed),
        ),
    )


async def list_records(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    external_ids: Sequence[str] | None,
    first: int,
    after: str | None,
) -> Page[CanonicalRecord]:
    check_page_size(first)
    table = CanonicalRecord
    query = select(table).where(
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
    )
    if external_ids is not None:
        query = query.where(table.external_id.in_(external_ids))
    if after is not None:
        query = query.where(table.id > decode_cursor(after))
    found = list(await session.scalars(query.order_by(table.id).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(page[-1].id) if page else None, len(found) > first)
