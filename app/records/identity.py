"""Linking records of one product across platforms by SKU, and flagging SKUs used twice.

A stored product's SKU is found through an expression index on the canonical records (the SQL
text below is the one the migration indexes, so lookups never scan). When a record is stored
with a SKU that is new to it:
- another platform's record with the same SKU is the same product: they are linked (`linked`) and
  read as one (`linkedRecord`), each field from its owner or the newest source;
- another record of the *same* platform with that SKU is a conflict the source must fix: both are
  kept, nothing is dropped, and the newcomer is flagged (`duplicate_sku`, naming the other).
"""

from collections import defaultdict
from typing import Any

from sqlalchemy import Index, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord
from app.records.resolutions import Resolution, ResolutionKind, named, record_resolutions
from app.records.service import RecordKey
from app.records.validation import ValidRecord
from app.tenancy.models import Tenant

CANONICAL_SKU: dict[str, str] = {
    "sqlite": "json_extract(data, '$.sku')",
    "postgresql": "(data ->> 'sku')",
}
SKU_INDEX_NAME = "ix_canonical_records_sku"  # made by migration 0022_field_mappings


# For PostgreSQL's reflection in the migration check; SQLite's leaves expression indexes out, so
# there the migration alone makes it.
SKU_INDEX = Index(
    SKU_INDEX_NAME,
    CanonicalRecord.client_id,
    CanonicalRecord.livemode,
    CanonicalRecord.entity,
    text(CANONICAL_SKU["postgresql"]),
).ddl_if(dialect="postgresql")


def sku_of(session: AsyncSession) -> Any:
    return literal_column(CANONICAL_SKU[session.get_bind().dialect.name])


async def sharing(
    session: AsyncSession, tenant: Tenant, entity: Entity, values: set[str]
) -> dict[str, set[RecordKey]]:
    """The stored records that have each of these SKUs."""
    table, sku = CanonicalRecord, sku_of(session)
    rows = await session.execute(
        select(sku.label("sku"), table.source_platform, table.external_id).where(
            table.client_id == tenant.client_id,
            table.livemode == tenant.livemode,
            table.entity == entity.value,
            sku.in_(sorted(values)),
        )
    )
    found: dict[str, set[RecordKey]] = defaultdict(set)
    for row in rows:
        found[row.sku].add((row.source_platform, row.external_id))
    return found


def link_resolutions(
    key: RecordKey, value: str, others: set[RecordKey], field: str
) -> list[Resolution]:
    same = sorted(other for other in others if other[0] == key[0])
    cross = sorted(other for other in others if other[0] != key[0])
    found = []
    if same:
        detail = {
            field: value,
            "others": [named(other) for other in same],
            "rule": f"two records of one platform with one {field}: both kept; fix it at the "
            "source",
        }
        found.append(Resolution(key, ResolutionKind.DUPLICATE_SKU, field, detail))
    if cross:
        detail = {
            field: value,
            "linked_with": [named(other) for other in cross],
            "rule": f"the same {field} on another platform: one product, read as one",
        }
        found.append(Resolution(key, ResolutionKind.LINKED, field, detail))
    return found


async def link_records(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    job_id: str,
    records: dict[RecordKey, ValidRecord],
) -> None:
    """Record the links and duplicates of the records about to be stored whose SKU is new to
    them (one indexed lookup for the chunk; records already stored with their SKU decide
    nothing again)."""
    present = {key: str(r.data["sku"]) for key, r in records.items() if r.data.get("sku")}
    if not present:
        return
    stored = await sharing(session, tenant, entity, set(present.values()))
    in_chunk: dict[str, set[RecordKey]] = defaultdict(set)
    for key, value in present.items():
        in_chunk[value].add(key)
    resolutions = []
    for key, value in present.items():
        known = stored.get(value, set())
        if key not in known:
            resolutions += link_resolutions(key, value, (known | in_chunk[value]) - {key}, "sku")
    await record_resolutions(session, tenant, entity, job_id, resolutions)
