"""Linking records of different platforms that are one thing by an identity key, and flagging a
value one platform uses twice.

Each entity's key is in the client's conflict policy (app.records.policies): products by `sku`
unless the policy says otherwise, people by `email`; any key of IDENTITY_KEYS or
`attributes.<name>`. Every stored record's value of its entity's current key is kept in
`record_identities` (one row per record, kept up to date by every store, rebuilt for the whole
entity when the key changes), so finding the records with a value is one indexed lookup whatever
the key. Identity values are strings of 1 to 255 characters; a record without one is not linked.

When a product is stored with a value that is new to it:
- another platform's record with the same value is the same product: they are linked (`linked`)
  and read as one (`linkedRecord`), each field from its owner or the newest source;
- another record of the *same* platform with that value is a conflict the source must fix: both
  are kept, nothing is dropped, and the newcomer is flagged (`duplicate_sku`, naming the other).
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    String,
    Table,
    and_,
    delete,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.contracts.entities import Entity
from app.db.models import Base, CanonicalRecord
from app.records.resolutions import Resolution, ResolutionKind, named, record_resolutions
from app.records.service import RecordKey
from app.records.validation import ValidRecord
from app.tenancy.models import Tenant

# The standard fields each entity can be linked by, besides attributes.<name>.
IDENTITY_KEYS: dict[Entity, tuple[str, ...]] = {
    Entity.PRODUCT: ("sku", "url"),
    Entity.AUDIENCE: ("email", "phone"),
    Entity.CAMPAIGN: ("name",),
    Entity.ASSET: ("sha256", "source_url"),
}
ATTRIBUTE_KEY = re.compile(r"attributes\.([A-Za-z0-9_-]{1,64})")
MAX_VALUE = 255


class RecordIdentity(Base):
    """A stored record's value of its entity's identity key (the policy's current one)."""

    __tablename__ = "record_identities"
    __table_args__ = (
        Index("ix_record_identities_value", "client_id", "livemode", "entity", "key", "value"),
    )

    record_id: Mapped[str] = mapped_column(
        ForeignKey("canonical_records.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[str] = mapped_column(String(MAX_VALUE))


def key_path(key: str) -> tuple[str, ...]:
    """Where a key's value is in a standard record: `sku` → (sku,); `attributes.gtin` →
    (attributes, gtin)."""
    found = ATTRIBUTE_KEY.fullmatch(key)
    return ("attributes", found.group(1)) if found else (key,)


def is_key_of(entity: Entity, key: str) -> bool:
    return key in IDENTITY_KEYS[entity] or ATTRIBUTE_KEY.fullmatch(key) is not None


def identity_of(data: dict[str, Any], key: str) -> str | None:
    """A record's identity value under a key; None when it has none."""
    found: Any = data
    for step in key_path(key):
        found = found.get(step) if isinstance(found, dict) else None
    if isinstance(found, str) and 0 < len(found) <= MAX_VALUE:
        return found
    return None


def _scope(tenant: Tenant, entity: Entity, key: str) -> list[Any]:
    table = RecordIdentity
    return [
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
        table.key == key,
    ]


async def sharing(
    session: AsyncSession, tenant: Tenant, entity: Entity, values: set[str], key: str = "sku"
) -> dict[str, set[RecordKey]]:
    """The stored records that have each of these values of the identity key."""
    table, record = RecordIdentity, CanonicalRecord
    found: dict[str, set[RecordKey]] = defaultdict(set)
    ordered = sorted(values)
    for start in range(0, len(ordered), 1000):
        rows = await session.execute(
            select(table.value, record.source_platform, record.external_id)
            .join(record, record.id == table.record_id)
            .where(*_scope(tenant, entity, key), table.value.in_(ordered[start : start + 1000]))
        )
        for row in rows:
            found[row.value].add((row.source_platform, row.external_id))
    return found


async def members(
    session: AsyncSession, tenant: Tenant, entity: Entity, key: str, value: str
) -> list[CanonicalRecord]:
    """The stored records with this value of the key, oldest first."""
    ids = select(RecordIdentity.record_id).where(
        *_scope(tenant, entity, key), RecordIdentity.value == value
    )
    rows = await session.scalars(
        select(CanonicalRecord)
        .where(CanonicalRecord.id.in_(ids), CanonicalRecord.client_id == tenant.client_id)
        .order_by(CanonicalRecord.id)
    )
    return list(rows)


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
    key: str = "sku",
) -> None:
    """Record the links and duplicates of the records about to be stored whose identity value
    is new to them (one indexed lookup for the chunk; records already stored with their value
    decide nothing again)."""
    present = {k: v for k, r in records.items() if (v := identity_of(r.data, key)) is not None}
    if not present:
        return
    stored = await sharing(session, tenant, entity, set(present.values()), key)
    in_chunk: dict[str, set[RecordKey]] = defaultdict(set)
    for record, value in present.items():
        in_chunk[value].add(record)
    resolutions = []
    for record, value in present.items():
        known = stored.get(value, set())
        if record not in known:
            others = (known | in_chunk[value]) - {record}
            resolutions += link_resolutions(record, value, others, key)
    await record_resolutions(session, tenant, entity, job_id, resolutions)


def _insert(dialect_name: str) -> Any:
    table = cast(Table, RecordIdentity.__table__)
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = dialect_insert(table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["record_id"], set_={"key": new.key, "value": new.value}
    )


async def keep_identities(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    key: str | None,
    records: Sequence[ValidRecord],
) -> None:
    """After records are stored: their identity rows say their current value (or are gone)."""
    if not records or key is None:
        return
    table = CanonicalRecord
    values: dict[RecordKey, str | None] = {
        (r.source_platform, r.external_id): identity_of(r.data, key) for r in records
    }
    rows, cleared = [], []
    for platform in {platform for platform, _ in values}:
        stored = await session.execute(
            select(table.id, table.external_id).where(
                table.client_id == tenant.client_id,
                table.livemode == tenant.livemode,
                table.entity == entity.value,
                table.source_platform == platform,
                table.external_id.in_([i for p, i in values if p == platform]),
            )
        )
        for record_id, external_id in stored:
            value = values[(platform, external_id)]
            if value is None:
                cleared.append(record_id)
                continue
            rows.append(
                {
                    "record_id": record_id,
                    "client_id": tenant.client_id,
                    "livemode": tenant.livemode,
                    "entity": entity.value,
                    "key": key,
                    "value": value,
                }
            )
    if rows:
        await session.execute(_insert(session.get_bind().dialect.name), rows)
    if cleared:
        await session.execute(
            delete(RecordIdentity).where(
                RecordIdentity.client_id == tenant.client_id,
                RecordIdentity.record_id.in_(cleared),
            )
        )


def _value_sql(dialect_name: str, key: str) -> tuple[Any, Any]:
    """The key's value in canonical_records.data as SQL, and the condition that it is an
    identity value (a string of 1 to 255 characters), for rebuilding in one statement."""
    path = key_path(key)
    data: Any = literal_column("data")
    if dialect_name == "postgresql":
        steps = literal(list(path), postgresql.ARRAY(String))
        value: Any = data.op("#>>")(steps)
        is_text = func.jsonb_typeof(data.op("#>")(steps)) == "string"
    else:
        sqlite_path = literal("$." + ".".join(f'"{step}"' for step in path))
        value = func.json_extract(data, sqlite_path)
        is_text = func.json_type(data, sqlite_path) == "text"
    length = func.length(value)
    return value, and_(is_text, length >= 1, length <= MAX_VALUE)


async def rebuild_identities(
    session: AsyncSession, tenant: Tenant, entity: Entity, key: str | None
) -> int:
    """Re-index every stored record of the entity under a new key (one statement; none under
    null). Returns how many records have a value under it."""
    await session.execute(
        delete(RecordIdentity).where(
            RecordIdentity.client_id == tenant.client_id,
            RecordIdentity.livemode == tenant.livemode,
            RecordIdentity.entity == entity.value,
        )
    )
    if key is None:
        return 0
    table = CanonicalRecord
    value, usable = _value_sql(session.get_bind().dialect.name, key)
    chosen = select(
        table.id,
        table.client_id,
        table.livemode,
        table.entity,
        literal(key, String),
        value,
    ).where(
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
        usable,
    )
    columns = ["record_id", "client_id", "livemode", "entity", "key", "value"]
    table_of_identities = cast(Table, RecordIdentity.__table__)
    result = await session.execute(table_of_identities.insert().from_select(columns, chosen))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
