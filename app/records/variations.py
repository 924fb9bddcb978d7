"""WooCommerce variations read on their own: partial updates of their parent product's variants.

A variation read on its own (/products/<id>/variations, a `product.updated` webhook for a
variation) maps to a product record marked by its mapping: attributes.product_type 'variation'
and attributes.parent_external_id. It is validated like any product, then stored here, not as a
record of its own: it is one variant (by variant external_id = the variation id) of the parent,
the product of the same tenant and platform whose external_id is parent_external_id.

- Parent stored: the parent's variant is replaced, or added; the parent's content hash and
  version change, it is marked sync-pending, and `variant_updated` on the parent's history names
  the variation. Its outcome is `written` (`unchanged` when the variant already says that).
- Parent not stored yet: the variation is held (variant_updates, `variation_held` on the parent's
  history, outcome `held`) and applied when the parent is stored.
- Stale: each variant remembers the time it last took (its newest variation; when none, the
  parent's own copy); an older variation never wins: outcome `stale`, recorded `stale`.
- A parent stored whole keeps what its variations said: before it is decided, its variations
  are applied to it: all of them when it has no variants of its own (WooCommerce lists
  variations by id only), else the newer ones of the variants it lists.
- Deleted variations: a parent that says which variations it has (attributes.variation_ids,
  comma-separated ids: the WooCommerce mapping's `variation_ids` transform of `variations`)
  loses the variants it does not list that are older than it: their variations are forgotten,
  `variants_removed` on its history names them; an older variation of an id it does not list
  is stale; a newer one is added (made after the parent was read). An empty list (a simple
  product, or a variable one whose variations are all gone) lists none; a parent without the
  attribute says nothing, and keeps them all.
- At most the standard schema's 2,000 variants (Product.variants' maxItems): a variation that
  would make its parent's variants (or the variations held for it) one more is refused with
  that field error (invalid_length at `variants`), for the job to quarantine; a parent stored
  whole takes no held variation beyond the cap (it stays held, and goes with the retention).
- Unapplied held variations go with the quarantine retention period (app.retention.purge).
- A parent and its variations take turns (PostgreSQL): before reading anything of them, a chunk
  locks the parents it touches (a WooCommerce product stored whole: shared; the parent of a
  variation: exclusive), stored or not yet; so a parent's push reads the variations committed
  before it, and a variation reads the parent committed before it (SQLite: one writer).
"""

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from annotated_types import MaxLen
from sqlalchemy import Select, Table, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity, Product
from app.db.models import CanonicalRecord, VariantUpdate
from app.errors import FieldError
from app.ids import new_id
from app.records.resolutions import Resolution, ResolutionKind, named, record_resolutions
from app.records.service import Outcome, RecordKey
from app.records.validation import ValidRecord, content_hash
from app.tenancy.models import Tenant

PLATFORM = "woocommerce"
VARIATION_TYPE = "variation"
LOOKUP_SLICE = 1000
# Parent locks per tenant and platform: a chunk holds at most this many (the lock table is
# shared by all sessions); parents in one bucket take turns.
LOCK_BUCKETS = 64
VARIATION_IDS = "variation_ids"  # in attributes: the variation ids a parent lists
MAX_VARIANTS = next(
    found.max_length
    for found in Product.model_fields["variants"].metadata
    if isinstance(found, MaxLen)
)


class ParentChanged(RuntimeError):
    """The parent changed between reading and writing it: the job's chunk is retried."""


@dataclass(frozen=True)
class Variation:
    record: ValidRecord  # as validated: a product record of its own
    parent_id: str
    variant: dict[str, Any]

    @property
    def key(self) -> RecordKey:
        return (self.record.source_platform, self.record.external_id)

    @property
    def parent(self) -> RecordKey:
        return (self.record.source_platform, self.parent_id)


def _variant(record: ValidRecord) -> dict[str, Any]:
    """The variation as its parent's variant: its own variant, else built from its fields."""
    for variant in record.data.get("variants") or []:
        if variant.get("external_id") == record.external_id:
            return dict(variant)
    built: dict[str, Any] = {"external_id": record.external_id}
    for name in ("sku", "name", "price", "inventory_quantity"):
        if name in record.data:
            built[name] = record.data[name]
    return built


def variation_of(record: ValidRecord) -> Variation | None:
    """The record as a variation of its parent; None when it is a product of its own."""
    attributes = record.data.get("attributes") or {}
    parent = attributes.get("parent_external_id")
    if (
        record.source_platform != PLATFORM
        or attributes.get("product_type") != VARIATION_TYPE
        or not isinstance(parent, str)
        or not parent
    ):
        return None
    return Variation(record, parent, _variant(record))


def split_variations(
    entity: Entity, records: dict[RecordKey, ValidRecord]
) -> tuple[dict[RecordKey, ValidRecord], list[Variation]]:
    """Whole records, and the variations among them (products only)."""
    if entity is not Entity.PRODUCT:
        return records, []
    whole, variations = {}, []
    for key, record in records.items():
        found = variation_of(record)
        if found is None:
            whole[key] = record
        else:
            variations.append(found)
    return whole, variations


def _hashed(value: str) -> int:
    digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_key(tenant: Tenant, key: RecordKey) -> int:
    """The tenant's platform in the high bits, one of LOCK_BUCKETS parent buckets in the low."""
    scope = _hashed(f"{tenant.client_id}|{tenant.livemode}|{key[0]}")
    return (scope & -LOCK_BUCKETS) | (_hashed(key[1]) % LOCK_BUCKETS)


_LOCK = text(
    "SELECT CASE WHEN exclusive THEN pg_advisory_xact_lock(key) "
    "ELSE pg_advisory_xact_lock_shared(key) END "
    "FROM unnest(CAST(:keys AS bigint[]), CAST(:exclusive AS boolean[])) AS lock(key, exclusive) "
    "ORDER BY key"
)


async def lock_parents(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    whole: dict[RecordKey, ValidRecord],
    variations: Sequence[Variation],
) -> None:
    """Lock the parents until the transaction ends (PostgreSQL; SQLite has one writer): a
    key that is not stored yet is locked as well, unlike a row. Shared for products stored
    whole (their upsert already keeps the newest), exclusive for variations' parents; in one
    order, so chunks never deadlock on them."""
    if entity is not Entity.PRODUCT or session.get_bind().dialect.name != "postgresql":
        return
    exclusive = {_lock_key(tenant, found.parent) for found in variations}
    shared = {_lock_key(tenant, key) for key in whole if key[0] == PLATFORM} - exclusive
    keys = sorted(exclusive | shared)
    if keys:
        await session.execute(_LOCK, {"keys": keys, "exclusive": [k in exclusive for k in keys]})


class Variants:
    """A product's variants by id, changed on one copy of its list: applying many variations
    to one parent costs one pass, not one per variation."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.items: list[dict[str, Any]] = list(data.get("variants") or [])
        self.positions: dict[Any, int] = {}
        for index, variant in enumerate(self.items):
            self.positions.setdefault(variant.get("external_id"), index)

    def __contains__(self, variant_id: object) -> bool:
        return variant_id in self.positions

    def put(self, variant: dict[str, Any]) -> bool:
        """This variant replacing the one of its id, or added last; whether anything changed."""
        index = self.positions.get(variant["external_id"])
        if index is None:
            self.positions[variant["external_id"]] = len(self.items)
            self.items.append(variant)
            return True
        if self.items[index] == variant:
            return False
        self.items[index] = variant
        return True

    def into(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "variants": self.items}


def _listed(data: dict[str, Any]) -> set[str] | None:
    """The variation ids the product lists; None when it does not say."""
    listed = (data.get("attributes") or {}).get(VARIATION_IDS)
    return {part.strip() for part in listed.split(",")} if isinstance(listed, str) else None


def _unlisted(listed: set[str] | None, variant_id: str) -> bool:
    return listed is not None and variant_id not in listed


def _over_cap(variant_ids: Collection[Any], variant_id: str) -> bool:
    """Would this variant be one more than a product may have?"""
    return variant_id not in variant_ids and len(variant_ids) >= MAX_VARIANTS


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _named_variation(platform: str, variant_id: str, at: datetime) -> dict[str, str]:
    return {**named((platform, variant_id)), "source_updated_at": _at(at)}


HeldRows = dict[RecordKey, dict[str, VariantUpdate]]  # parent → variant id → its held variation


async def _held(session: AsyncSession, tenant: Tenant, parents: set[RecordKey]) -> HeldRows:
    table = VariantUpdate
    found: HeldRows = defaultdict(dict)
    for platform in {platform for platform, _ in parents}:
        ids = sorted(external_id for source, external_id in parents if source == platform)
        for start in range(0, len(ids), LOOKUP_SLICE):
            rows = await session.scalars(
                select(table).where(
                    table.client_id == tenant.client_id,
                    table.livemode == tenant.livemode,
                    table.source_platform == platform,
                    table.parent_external_id.in_(ids[start : start + LOOKUP_SLICE]),
                )
            )
            for row in rows:
                found[(platform, row.parent_external_id)][row.variant_external_id] = row
    return found


@dataclass
class HeldForParents:
    """Held variations applied to parents about to be stored whole, settled once they are."""

    applied: dict[RecordKey, list[VariantUpdate]] = field(default_factory=dict)
    outdated: dict[RecordKey, list[VariantUpdate]] = field(default_factory=dict)
    removed: dict[RecordKey, list[VariantUpdate]] = field(default_factory=dict)

    async def taken(
        self, session: AsyncSession, tenant: Tenant, job_id: str, written: Sequence[ValidRecord]
    ) -> None:
        """For the parents the store took: their held variations are applied (recorded when
        they were waiting for them); those the parent's own newer copy outdid take its time;
        those it no longer lists are forgotten (recorded)."""
        now, resolutions = datetime.now(UTC), []
        for parent in written:
            key = (parent.source_platform, parent.external_id)
            for row in self.applied.get(key, []):
                if row.applied_at is None:
                    resolutions.append(_arrived(key, row))
                row.applied_at = row.updated_at = now
            for row in self.outdated.get(key, []):
                row.source_updated_at = parent.source_updated_at
                row.applied_at = row.updated_at = now
            if removed := self.removed.get(key):
                resolutions.append(_removed(key, removed))
                for row in removed:
                    await session.delete(row)
        await session.flush()
        await record_resolutions(session, tenant, Entity.PRODUCT, job_id, resolutions)


def _arrived(parent: RecordKey, row: VariantUpdate) -> Resolution:
    variation = _named_variation(parent[0], row.variant_external_id, row.source_updated_at)
    detail = {
        "variation": variation,
        "change": "held variation applied",
        "rule": "a variation that came before its parent was held and is applied when the "
        "parent arrives",
    }
    return Resolution(parent, ResolutionKind.VARIANT_UPDATED, "variants", detail)


def _removed(parent: RecordKey, rows: list[VariantUpdate]) -> Resolution:
    detail = {
        "removed": sorted(row.variant_external_id for row in rows),
        "change": "variants removed",
        "rule": "a parent that lists its variations by id no longer has those it does not "
        "list (older than it): they were deleted",
    }
    return Resolution(parent, ResolutionKind.VARIANTS_REMOVED, "variants", detail)


def merge_held(
    record: ValidRecord, rows: dict[str, VariantUpdate], held: HeldForParents
) -> ValidRecord:
    key = (record.source_platform, record.external_id)
    variants, listed = Variants(record.data), _listed(record.data)
    own, changed = set(variants.positions), False
    for variant_id, row in sorted(rows.items()):
        if _unlisted(listed, variant_id) and row.source_updated_at < record.source_updated_at:
            held.removed.setdefault(key, []).append(row)
            continue
        if own and variant_id not in own:
            continue  # the parent lists its variants: this one is not among them
        if variant_id in own and row.source_updated_at <= record.source_updated_at:
            held.outdated.setdefault(key, []).append(row)
            continue
        if _over_cap(variants.positions, variant_id):
            continue
        changed = variants.put(dict(row.variant)) or changed
        held.applied.setdefault(key, []).append(row)
    if not changed:
        return record
    data = variants.into(record.data)
    return replace(record, data=data, content_hash=content_hash(data))


async def with_held_variations(
    session: AsyncSession, tenant: Tenant, entity: Entity, records: dict[RecordKey, ValidRecord]
) -> tuple[dict[RecordKey, ValidRecord], HeldForParents]:
    """Whole WooCommerce products with their held variations applied (one indexed lookup)."""
    held = HeldForParents()
    parents = {key for key in records if key[0] == PLATFORM}
    if entity is not Entity.PRODUCT or not parents:
        return records, held
    rows = await _held(session, tenant, parents)
    merged = dict(records)
    for key, found in rows.items():
        merged[key] = merge_held(records[key], found, held)
    return merged, held


@dataclass
class _Parent:
    id: str
    data: dict[str, Any]
    content_hash: str
    source_updated_at: datetime
    listed: set[str] | None  # the variation ids it lists (attributes.variation_ids)
    variants: Variants
    changed: bool = False


async def _parents(
    session: AsyncSession, tenant: Tenant, keys: set[RecordKey]
) -> dict[RecordKey, _Parent]:
    """The stored parents, locked until the transaction ends (PostgreSQL), so two jobs updating
    variants of one parent take turns."""
    table = CanonicalRecord
    found = {}
    for platform in {platform for platform, _ in keys}:
        ids = sorted(external_id for source, external_id in keys if source == platform)
        rows = await session.execute(
            select(
                table.id, table.external_id, table.data, table.content_hash, table.source_updated_at
            )
            .where(
                table.client_id == tenant.client_id,
                table.livemode == tenant.livemode,
                table.entity == Entity.PRODUCT.value,
                table.source_platform == platform,
                table.external_id.in_(ids),
            )
            .with_for_update()
        )
        for row in rows:
            found[(platform, row.external_id)] = _Parent(
                row.id,
                row.data,
                row.content_hash,
                row.source_updated_at,
                _listed(row.data),
                Variants(row.data),
            )
    return found


def _taken(row: VariantUpdate | None, variant_id: str, parent: _Parent | None) -> datetime | None:
    """When the variant last changed: its newest variation, else the parent's own copy (or
    the parent's list without it)."""
    if row is not None:
        return row.source_updated_at
    if parent is not None and (
        variant_id in parent.variants or _unlisted(parent.listed, variant_id)
    ):
        return parent.source_updated_at
    return None


@dataclass
class Applied:
    outcomes: dict[RecordKey, Outcome] = field(default_factory=dict)
    written: list[ValidRecord] = field(default_factory=list)  # the variations the store took
    rows: list[dict[str, Any]] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    refused: dict[RecordKey, list[FieldError]] = field(default_factory=dict)  # to quarantine
    waiting: dict[RecordKey, set[str]] = field(default_factory=dict)  # parent → held variant ids


def _stale(variation: Variation, taken: datetime) -> Resolution:
    detail = {
        "variation": _named_variation(*variation.key, variation.record.source_updated_at),
        "incoming_source_updated_at": _at(variation.record.source_updated_at),
        "stored_source_updated_at": _at(taken),
        "rule": "an older variation never overwrites the variant its parent took from a newer one",
    }
    return Resolution(variation.parent, ResolutionKind.STALE, "variants", detail)


def _change(variation: Variation, kind: ResolutionKind, change: str, rule: str) -> Resolution:
    detail = {
        "variation": _named_variation(*variation.key, variation.record.source_updated_at),
        "change": change,
        "rule": rule,
    }
    return Resolution(variation.parent, kind, "variants", detail)


def _row(tenant: Tenant, job_id: str, variation: Variation, applied: bool) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": new_id("var"),
        "client_id": tenant.client_id,
        "livemode": tenant.livemode,
        "source_platform": variation.key[0],
        "parent_external_id": variation.parent_id,
        "variant_external_id": variation.key[1],
        "variant": variation.variant,
        "source_updated_at": variation.record.source_updated_at,
        "job_id": job_id,
        "applied_at": now if applied else None,
        "created_at": now,
        "updated_at": now,
    }


def _too_many(variation: Variation) -> list[FieldError]:
    message = (
        f"Its parent product {variation.parent_id} has {MAX_VARIANTS:,} variants, the most a "
        "product may have: this variation would be one more. Remove a variation from the parent "
        "first."
    )
    return [FieldError("invalid_length", message, ("variants",))]


def _same(row: VariantUpdate | None, variation: Variation) -> bool:
    return (
        row is not None
        and row.variant == variation.variant
        and row.source_updated_at == variation.record.source_updated_at
    )


def _hold(
    applied: Applied, tenant: Tenant, job_id: str, variation: Variation, same: bool, rerun: bool
) -> None:
    """No parent yet: the variation waits; a newer one replaces it, the same one again is
    unchanged (held still, when this job is running again)."""
    if same:
        applied.outcomes[variation.key] = Outcome.HELD if rerun else Outcome.UNCHANGED
        return
    applied.outcomes[variation.key] = Outcome.HELD
    rule = "its parent is not stored yet: held, and applied when the parent arrives"
    applied.resolutions.append(_change(variation, ResolutionKind.VARIATION_HELD, "held", rule))
    applied.rows.append(_row(tenant, job_id, variation, applied=False))


def _update_parent(
    applied: Applied,
    tenant: Tenant,
    job_id: str,
    variation: Variation,
    parent: _Parent,
    rerun: bool,
) -> None:
    change = "updated" if variation.key[1] in parent.variants else "added"
    changed = parent.variants.put(variation.variant)
    applied.outcomes[variation.key] = Outcome.WRITTEN if changed or rerun else Outcome.UNCHANGED
    applied.rows.append(_row(tenant, job_id, variation, applied=True))
    if changed or rerun:
        applied.written.append(variation.record)
    if changed:
        rule = "a variation read on its own updates its parent's variant of the same id"
        applied.resolutions.append(
            _change(variation, ResolutionKind.VARIANT_UPDATED, f"variant {change}", rule)
        )
        parent.changed = True


def _apply_one(
    applied: Applied,
    tenant: Tenant,
    job_id: str,
    variation: Variation,
    rows: dict[str, VariantUpdate],
    parent: _Parent | None,
) -> None:
    row = rows.get(variation.key[1])
    taken = _taken(row, variation.key[1], parent)
    if taken is not None and variation.record.source_updated_at < taken:
        applied.outcomes[variation.key] = Outcome.STALE
        applied.resolutions.append(_stale(variation, taken))
        return
    same = _same(row, variation)
    rerun = same and row is not None and row.job_id == job_id
    if parent is None:
        waiting = applied.waiting.setdefault(variation.parent, set(rows))
        if _over_cap(waiting, variation.key[1]):
            applied.refused[variation.key] = _too_many(variation)
            return
        waiting.add(variation.key[1])
        _hold(applied, tenant, job_id, variation, same, rerun)
    elif _over_cap(parent.variants.positions, variation.key[1]):
        applied.refused[variation.key] = _too_many(variation)
    else:
        _update_parent(applied, tenant, job_id, variation, parent, rerun)


def _upsert_rows(dialect_name: str) -> Any:
    table = cast(Table, VariantUpdate.__table__)
    statement = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[
            "client_id",
            "livemode",
            "source_platform",
            "parent_external_id",
            "variant_external_id",
        ],
        set_={
            "variant": new.variant,
            "source_updated_at": new.source_updated_at,
            "job_id": new.job_id,
            "applied_at": new.applied_at,
            "updated_at": new.updated_at,
        },
    )


async def _write_parents(
    session: AsyncSession, job_id: str, parents: Iterable[tuple[_Parent, str]]
) -> None:
    """Each changed parent once, guarded by the content it was read with."""
    table, now = CanonicalRecord, datetime.now(UTC)
    for parent, read_hash in parents:
        data = parent.variants.into(parent.data)
        result = await session.execute(
            update(table)
            .where(table.id == parent.id, table.content_hash == read_hash)
            .values(
                data=data,
                content_hash=content_hash(data),
                version=table.version + 1,
                last_job_id=job_id,
                updated_at=now,
                sync_pending=True,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ParentChanged(parent.id)


async def apply_variations(
    session: AsyncSession, tenant: Tenant, job_id: str, variations: Sequence[Variation]
) -> Applied:
    """Apply the variations (one per variation id) to their parents, or hold them."""
    applied = Applied()
    if not variations:
        return applied
    parent_keys = {variation.parent for variation in variations}
    parents = await _parents(session, tenant, parent_keys)
    read_hashes = {key: parent.content_hash for key, parent in parents.items()}
    held = await _held(session, tenant, parent_keys)
    for variation in sorted(variations, key=lambda found: found.key):
        rows = held.get(variation.parent, {})
        _apply_one(applied, tenant, job_id, variation, rows, parents.get(variation.parent))
    changed = [(parent, read_hashes[key]) for key, parent in parents.items() if parent.changed]
    await _write_parents(session, job_id, changed)
    if applied.rows:
        await session.execute(_upsert_rows(session.get_bind().dialect.name), applied.rows)
    await record_resolutions(session, tenant, Entity.PRODUCT, job_id, applied.resolutions)
    return applied


def unclaimed(tenant: Tenant, before: datetime) -> Select[Any]:
    """Held variations whose parent never came, unchanged since `before` (for the retention
    purge, with the quarantine period: both are records waiting for someone)."""
    table = VariantUpdate
    return select(table.id).where(
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.applied_at.is_(None),
        table.updated_at < before,
    )
