"""The history of resolved conflicts: one row per decision about one stored record."""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.contracts.entities import Entity
from app.db.models import Base, UtcDateTime
from app.ids import new_id
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor
from app.records.service import RecordKey
from app.tenancy.models import Tenant


class ResolutionKind(StrEnum):
    CONSENT_KEPT = "consent_kept"
    CONSENT_PROPAGATED = "consent_propagated"
    DUPLICATE_SKU = "duplicate_sku"
    LINKED = "linked"
    STALE = "stale"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    AMS_ROW_MERGED = "ams_row_merged"  # shown in its linked records' one AMS row (app.ams)
    AMS_ROW_SPLIT = "ams_row_split"  # no longer linked: back in an AMS row of its own
    VARIANT_UPDATED = "variant_updated"  # a variation changed its parent's variant
    VARIATION_HELD = "variation_held"  # a variation waits for its parent (app.records.variations)
    VARIANTS_REMOVED = "variants_removed"  # variants of deleted variations left their parent


class RecordResolution(Base):
    """One conflict resolved for one stored record: what happened, why, and from which record.
    Details name records by platform and external id, never by personal data."""

    __tablename__ = "record_resolutions"
    __table_args__ = (
        Index(
            "ix_record_resolutions_record",
            "client_id",
            "livemode",
            "entity",
            "source_platform",
            "external_id",
            "id",
        ),
        Index(None, "client_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    source_platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Resolution:
    key: RecordKey
    kind: ResolutionKind
    field: str | None
    detail: dict[str, Any]


def named(key: RecordKey) -> dict[str, str]:
    return {"source_platform": key[0], "external_id": key[1]}


async def record_resolutions(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    job_id: str | None,
    resolutions: list[Resolution],
) -> None:
    if not resolutions:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "id": new_id("res"),
            "client_id": tenant.client_id,
            "livemode": tenant.livemode,
            "entity": entity.value,
            "source_platform": found.key[0],
            "external_id": found.key[1],
            "kind": found.kind.value,
            "field": found.field,
            "job_id": job_id,
            "detail": found.detail,
            "created_at": now,
        }
        for found in resolutions
    ]
    await session.execute(insert(RecordResolution), rows)


async def list_resolutions(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    record: RecordKey | None,
    kind: ResolutionKind | None,
    first: int,
    after: str | None,
) -> Page[RecordResolution]:
    """The tenant's resolutions of one entity, oldest first; of one record when `record` is
    given."""
    check_page_size(first)
    table = RecordResolution
    query = select(table).where(
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
    )
    if record is not None:
        query = query.where(table.source_platform == record[0], table.external_id == record[1])
    if kind is not None:
        query = query.where(table.kind == kind.value)
    if after is not None:
        query = query.where(table.id > decode_cursor(after))
    found = list(await session.scalars(query.order_by(table.id).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(page[-1].id) if page else None, len(found) > first)
