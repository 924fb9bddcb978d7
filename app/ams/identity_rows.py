"""One AMS row per set of linked records: the same product (or person) on several platforms.

Records that share a value of the client's identity key (the conflict policy's, indexed in
`record_identities`, app.records.identity) and come from at least two platforms are shown in ONE
row of the entity's AMS table (entities whose field map says `linked_rows`). Its values are the
linked record's as `linkedRecord` reads it, by the same function (`app.records.conflicts.merge`:
each field from its owner platform, else the newest source). Records of one platform alone that
share a value (a duplicate the source must fix) are not linked: each keeps its own row, as does
every record without a value.

The merged row:
- its External ID and Source are one member's, the *holder*'s (the upsert key stays a real
  record's; a holder written before keeps its row and its Airtable id);
- `Identity` says `key:value` (e.g. `sku:TEE-1`) and `Linked Sources` every member, one
  `source_platform:external_id` per line; both are empty on a record's own row.

Bookkeeping, in `ams_sync_records` (still one row per canonical record):
- the holder's row holds the merged row's Airtable record id and its column hashes (so only the
  merged columns that change are sent), with `merged_into` = its own id;
- every other member has `merged_into` = the holder's sync record id, the same Airtable record id
  (so erasure and exports find the row from any member) and no column hashes;
- a record with a row of its own has `merged_into` null, as before.
A member finds its row through `merged_into`. The holder is the set's current holder when it has
one, else a member with a row of its own, else the first member by (platform, external id): the
fewest rows move.

Placing (`plan`, on every sync page): the page's records, the records sharing their identity
values, and the members of the merged rows they were in (transitively) are placed again:
- a linked set: one merged row, written to the holder's row (only changed columns, upserted on
  the holder's External ID + Source); the rows of their own its other members had are deleted
  from Airtable once it is written, and only then is the bookkeeping saved (a crash in between
  places the set again next time; deleting a row already gone is a no-op), with one
  `ams_row_merged` resolution per member newly placed in it;
- a record no longer linked (its value changed, the others were erased, the key was removed):
  a row of its own again (the former holder's row is rewritten with its own values and the
  identity columns emptied; another member's row is created), recorded `ams_row_split`.
A stale member changes nothing stored, and an unchanged merged value is not sent: neither writes.

A change of the conflict policy (field owners or key) changes merged values without changing any
record: `ams_identity_policies` remembers the policy version each entity's rows were placed with,
and when it differs the sync places every linked set and merged row again
(`regroup_candidates`); setConflictPolicy marks the sync due (`policy_changed`). The first sync
after this module was deployed does the same, so rows written per record before are merged.

When Airtable refuses a merged row, the holder's record is quarantined (its refusal) and the
other members keep their bookkeeping as it was, marked refused. A base provisioned before
template version 3 gets the identity columns from the next sync (app.provisioning.upgrade); while
that fails, merged rows are written without them (app.ams.service reads the base's columns once
per sync for such a base).

Archival shows a merged row archived only when every member is archived (`merged_archivals`);
reconciliation expects a merged row to hold the merged values (`merged_expectations`).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Table,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.ams.archival import (
    archival_shown,
    archivals_of,
    records_of,
    same_record,
    scoped,
)
from app.ams.due import mark_pending, mark_sync_due
from app.ams.fieldmap import TableMap
from app.ams.models import AmsSyncRecord, AmsSyncState, RecordSyncStatus
from app.contracts.entities import Entity
from app.db.in_lists import in_lists
from app.db.models import Base, CanonicalRecord, UtcDateTime
from app.ids import new_id
from app.records.conflicts import merge
from app.records.identity import RecordIdentity, identity_of
from app.records.policies import Policy
from app.records.resolutions import Resolution, ResolutionKind, named
from app.tenancy.models import Tenant

Key = tuple[str, str]  # (source_platform, external_id)
Candidate = tuple[CanonicalRecord, AmsSyncRecord | None]
IN_CHUNK = 1000  # values per IN (...): far below SQLite's and asyncpg's parameter limits
IDENTITY, MEMBERS = "identity", "members"  # what the field map's identity_fields hold
MERGED_RULE = (
    "records linked by {key} across platforms are one AMS row holding the linked record's "
    "values (each field from its owner platform, else the newest source)"
)
SPLIT_RULE = "no longer linked to a record of another platform: an AMS row of its own again"


class AmsIdentityPolicy(Base):
    """The conflict policy version a tenant's merged rows of one entity were placed with."""

    __tablename__ = "ams_identity_policies"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    policy_version: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime())


IDENTITY_COLUMNS_SINCE = 3  # the base template version that added the identity columns


def template_has_identity_columns(config: dict[str, Any] | None) -> bool:
    """Whether a base was provisioned from a template with the identity columns (a base made
    before lacks them unless someone added them by hand)."""
    version = (config or {}).get("templates", {}).get("airtable_base", 0)
    return int(version) >= IDENTITY_COLUMNS_SINCE


def key_of(record: CanonicalRecord) -> Key:
    return (record.source_platform, record.external_id)


def owns_row(synced: AmsSyncRecord | None) -> bool:
    """Whether the Airtable row in this bookkeeping is the record's own (or the merged row it
    holds), not the row of a set it is only a member of."""
    return (
        synced is not None
        and synced.airtable_record_id is not None
        and synced.merged_into in (None, synced.id)
    )


def shown_in_own_row() -> Any:
    """SQL: a sync record whose Airtable row is its own or the merged row it holds (the other
    members of a merged row have none of their own)."""
    synced = AmsSyncRecord
    return or_(synced.merged_into.is_(None), synced.merged_into == synced.id)


@dataclass
class Placement:
    """One row to write: a linked set's merged row, or a record's own row again."""

    record: CanonicalRecord  # the holder, or the record back in its own row
    synced: AmsSyncRecord | None  # its bookkeeping
    sync_id: str  # its sync record's id (new when it has none yet)
    data: dict[str, Any]  # what the field map reads
    extra: dict[str, Any]  # the identity columns
    holder_id: str | None  # `merged_into` of the row's records; None: a record's own row
    others: list[Candidate] = field(default_factory=list)  # the merged row's other members
    superseded: list[str] = field(default_factory=list)  # their own rows: deleted once written
    resolutions: list[Resolution] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return key_of(self.record)

    @property
    def written(self) -> AmsSyncRecord | None:
        """What the row was last written with; None when the row does not exist yet."""
        return self.synced if owns_row(self.synced) else None


@dataclass
class Plan:
    plain: list[Candidate]  # records with a row of their own that stay so: synced as ever
    placements: list[Placement]


def _value(policy: Policy, record: CanonicalRecord) -> str | None:
    return identity_of(record.data, policy.identity) if policy.identity else None


def _chunks(values: Iterable[str]) -> list[list[str]]:
    return in_lists(sorted(values), IN_CHUNK)


async def _sharing(
    session: AsyncSession, tenant: Tenant, entity: Entity, key: str | None, values: set[str]
) -> list[Candidate]:
    """The records with these values of the identity key, with their bookkeeping."""
    if key is None or not values:
        return []
    found: list[Candidate] = []
    identity = RecordIdentity
    for chunk in _chunks(values):
        rows = await session.execute(
            select(CanonicalRecord, AmsSyncRecord)
            .join(identity, identity.record_id == CanonicalRecord.id)
            .outerjoin(AmsSyncRecord, same_record(AmsSyncRecord, CanonicalRecord))
            .where(*scoped(identity, tenant, entity), identity.key == key)
            .where(identity.value.in_(chunk))
        )
        found += [(row[0], row[1]) for row in rows]
    return found


async def _linked_values(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    key: str | None,
    values: set[str] | None,
) -> set[str]:
    """Of these values of the identity key (None: all), those records of two platforms or more
    share: the linked sets (an index-only grouping; records are read only for these)."""
    if key is None or (values is not None and not values):
        return set()
    identity = RecordIdentity
    platforms = func.count(CanonicalRecord.source_platform.distinct())
    query = (
        select(identity.value)
        .join(CanonicalRecord, CanonicalRecord.id == identity.record_id)
        .where(*scoped(identity, tenant, entity), identity.key == key)
        .group_by(identity.value)
        .having(platforms > 1)
    )
    if values is None:
        return set(await session.scalars(query))
    found: set[str] = set()
    for chunk in _chunks(values):
        found |= set(await session.scalars(query.where(identity.value.in_(chunk))))
    return found


async def _merged_with(
    session: AsyncSession, tenant: Tenant, entity: Entity, holders: set[str]
) -> list[Candidate]:
    """The records shown in the merged rows these sync records hold."""
    found: list[Candidate] = []
    for chunk in _chunks(holders):
        rows = await session.execute(
            select(CanonicalRecord, AmsSyncRecord)
            .join(AmsSyncRecord, same_record(AmsSyncRecord, CanonicalRecord))
            .where(*scoped(AmsSyncRecord, tenant, entity), AmsSyncRecord.merged_into.in_(chunk))
        )
        found += [(row[0], row[1]) for row in rows]
    return found


async def plan(
    session: AsyncSession,
    tenant: Tenant,
    table_map: TableMap,
    policy: Policy,
    page: Sequence[Candidate],
) -> Plan:
    """How a sync page's records are shown: those that keep a row of their own as ever, and the
    rows of linked sets (and of records leaving one) to place again."""
    if not table_map.identity_fields:
        return Plan(list(page), [])
    loaded = await _closure(session, tenant, table_map.entity, policy, page)
    sets: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in loaded.values():
        value = _value(policy, candidate[0])
        if value is not None:
            sets[value].append(candidate)
    linked = {value: found for value, found in sets.items() if _platforms(found) > 1}
    in_sets = {key_of(record) for found in linked.values() for record, _ in found}
    placements = [
        _merged(table_map, policy, value, found) for value, found in sorted(linked.items())
    ]
    for key, (record, synced) in sorted(loaded.items()):
        if key not in in_sets and synced is not None and synced.merged_into is not None:
            placements.append(_own_again(table_map, record, synced))
    plain = [
        (record, synced)
        for record, synced in page
        if key_of(record) not in in_sets and (synced is None or synced.merged_into is None)
    ]
    return Plan(plain, placements)


async def _closure(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    policy: Policy,
    page: Sequence[Candidate],
) -> dict[Key, Candidate]:
    """The page's records, those sharing their values and those in their merged rows, until
    no record brings another."""
    loaded = {key_of(record): (record, synced) for record, synced in page}
    fresh, values_seen, holders_seen = list(loaded.values()), set[str](), set[str]()
    while fresh:
        values = {v for record, _ in fresh if (v := _value(policy, record))} - values_seen
        holders = {s.merged_into for _, s in fresh if s and s.merged_into} - holders_seen
        values_seen |= values
        holders_seen |= holders
        linked = await _linked_values(session, tenant, entity, policy.identity, values)
        found = await _sharing(session, tenant, entity, policy.identity, linked)
        found += await _merged_with(session, tenant, entity, holders)
        fresh = []
        for record, synced in found:
            if key_of(record) not in loaded:
                loaded[key_of(record)] = (record, synced)
                fresh.append((record, synced))
    return loaded


def _platforms(found: list[Candidate]) -> int:
    return len({record.source_platform for record, _ in found})


def _holder(found: list[Candidate]) -> Candidate:
    ordered = sorted(found, key=lambda c: key_of(c[0]))
    holding = [c for c in ordered if owns_row(c[1]) and c[1] and c[1].merged_into == c[1].id]
    owning = [c for c in ordered if owns_row(c[1])]
    return (holding or owning or ordered)[0]


def identity_cells(table_map: TableMap, identity: str | None, members: list[Key]) -> dict[str, Any]:
    """The identity columns of a row: empty (None) for a record's own row."""
    values = {
        IDENTITY: identity,
        MEMBERS: "\n".join(f"{platform}:{external_id}" for platform, external_id in members)
        or None,
    }
    return {column: values[what] for what, column in table_map.identity_fields.items()}


def merged_data(
    found: Sequence[CanonicalRecord], holder: CanonicalRecord, policy: Policy
) -> dict[str, Any]:
    """The merged row's data: the linked record's values, the holder's External ID and Source."""
    data, _ = merge(found, policy)
    return data | {"external_id": holder.external_id, "source_platform": holder.source_platform}


def _merged(table_map: TableMap, policy: Policy, value: str, found: list[Candidate]) -> Placement:
    record, synced = _holder(found)
    holder_id = synced.id if synced is not None else new_id("amsrec")
    others = [c for c in found if c[0] is not record]
    members = sorted(key_of(r) for r, _ in found)
    superseded = [s.airtable_record_id for _, s in others if s and owns_row(s)]
    placement = Placement(
        record=record,
        synced=synced,
        sync_id=holder_id,
        data=merged_data([r for r, _ in found], record, policy),
        extra=identity_cells(table_map, f"{policy.identity}:{value}", members),
        holder_id=holder_id,
        others=others,
        superseded=[row for row in superseded if row],
    )
    detail = {
        "row": named(key_of(record)),
        "members": [named(member) for member in members],
        "removed_rows": placement.superseded,
        "policy_version": policy.version,
        "rule": MERGED_RULE.format(key=policy.identity),
    }
    placement.resolutions = [
        Resolution(key_of(r), ResolutionKind.AMS_ROW_MERGED, policy.identity, detail)
        for r, s in found
        if s is None or s.merged_into != holder_id
    ]
    return placement


def _own_again(table_map: TableMap, record: CanonicalRecord, synced: AmsSyncRecord) -> Placement:
    held = owns_row(synced)  # it held the merged row: that row is its own again
    extra = identity_cells(table_map, None, []) if held else {}
    detail = {"row": named(key_of(record)), "rule": SPLIT_RULE}
    resolution = Resolution(key_of(record), ResolutionKind.AMS_ROW_SPLIT, None, detail)
    return Placement(record, synced, synced.id, record.data, extra, None, resolutions=[resolution])


# After a conflict policy change: every linked set placed again


async def policy_changed(session: AsyncSession, tenant: Tenant, entity: Entity) -> None:
    """A new conflict policy version was stored (in this transaction): when the entity was
    synced to the AMS before, its next sync is due, to place the merged rows again."""
    state = select(AmsSyncState.entity).where(*scoped(AmsSyncState, tenant, entity))
    synced = await session.scalar(state)
    if synced is not None:
        await mark_sync_due(session, tenant, entity)


async def policy_applied(
    session: AsyncSession, tenant: Tenant, entity: Entity, policy: Policy
) -> bool:
    """Whether the entity's rows were placed with this policy version."""
    found = await session.scalar(
        select(AmsIdentityPolicy.policy_version).where(*scoped(AmsIdentityPolicy, tenant, entity))
    )
    return found == policy.version


async def regroup_candidates(
    session: AsyncSession, tenant: Tenant, entity: Entity, policy: Policy
) -> list[Candidate]:
    """Every record of a linked set under the policy's key and every record of a merged row."""
    values = await _linked_values(session, tenant, entity, policy.identity, None)
    shared = await _sharing(session, tenant, entity, policy.identity, values)
    found = {key_of(record): (record, synced) for record, synced in shared}
    merged = await session.execute(
        select(CanonicalRecord, AmsSyncRecord)
        .join(AmsSyncRecord, same_record(AmsSyncRecord, CanonicalRecord))
        .where(*scoped(AmsSyncRecord, tenant, entity), AmsSyncRecord.merged_into.is_not(None))
    )
    for record, synced in merged:
        found.setdefault(key_of(record), (record, synced))
    return [found[key] for key in sorted(found)]


async def mark_applied(
    session: AsyncSession, tenant: Tenant, entity: Entity, policy: Policy
) -> None:
    table = cast(Table, AmsIdentityPolicy.__table__)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    row = {
        "client_id": tenant.client_id,
        "livemode": tenant.livemode,
        "entity": entity.value,
        "policy_version": policy.version,
        "applied_at": datetime.now(UTC),
    }
    await session.execute(
        statement.values(row).on_conflict_do_update(
            index_elements=["client_id", "livemode", "entity"],
            set_={"policy_version": policy.version, "applied_at": row["applied_at"]},
        )
    )


# Archival: a merged row is archived only when every member is


@dataclass(frozen=True)
class MergedArchival:
    holder: AmsSyncRecord
    record: CanonicalRecord  # the holder's record, with the newest member's source_updated_at
    archived_at: datetime | None  # the archival to show: the latest of its members', or None


async def merged_archivals(
    session: AsyncSession, tenant: Tenant, entity: Entity, holder_ids: Iterable[str]
) -> list[MergedArchival]:
    """Of the merged rows these sync records hold, those whose Archived column is not what
    their members' archivals say. Read by index from the holders given (those of the archived
    members and of the rows showing an archival), never from every merged row."""
    members: dict[str, list[AmsSyncRecord]] = defaultdict(list)
    for chunk in _chunks(holder_ids):
        rows = await session.scalars(
            select(AmsSyncRecord).where(
                *scoped(AmsSyncRecord, tenant, entity), AmsSyncRecord.merged_into.in_(chunk)
            )
        )
        for synced in rows:
            members[str(synced.merged_into)].append(synced)
    keys = [(s.source_platform, s.external_id) for found in members.values() for s in found]
    records = await records_of(session, tenant, entity, keys)
    archivals = await archivals_of(session, tenant, entity, keys)
    found = []
    for holder_id in sorted(members):
        holder = next((s for s in members[holder_id] if s.id == holder_id), None)
        if holder is None or holder.airtable_record_id is None:
            continue
        shown = _archival_of(holder, _archived_members(members[holder_id], records, archivals))
        if shown is not None and shown.archived_at != holder.archived_at:
            found.append(shown)
    return found


def _archived_members(
    members: list[AmsSyncRecord],
    records: dict[Key, CanonicalRecord],
    archivals: dict[Key, datetime],
) -> list[tuple[CanonicalRecord, datetime | None]]:
    """Each member's record and the archival it shows (None: alive)."""
    found = []
    for synced in members:
        key = (synced.source_platform, synced.external_id)
        if (record := records.get(key)) is not None:
            found.append((record, archival_shown(record, archivals.get(key))))
    return found


def _archival_of(
    holder: AmsSyncRecord, members: list[tuple[CanonicalRecord, datetime | None]]
) -> MergedArchival | None:
    held = (holder.source_platform, holder.external_id)
    own = next((record for record, _ in members if key_of(record) == held), None)
    if own is None:
        return None
    times = [when for _, when in members]
    when = max(cast(list[datetime], times)) if all(t is not None for t in times) else None
    newest = max((r for r, _ in members), key=lambda r: r.source_updated_at)
    data = own.data | {"source_updated_at": newest.data.get("source_updated_at")}
    shown = CanonicalRecord(
        id=own.id,
        client_id=own.client_id,
        livemode=own.livemode,
        entity=own.entity,
        source_platform=own.source_platform,
        external_id=own.external_id,
        data=data,
        content_hash=own.content_hash,
        source_updated_at=newest.source_updated_at,
        last_job_id=own.last_job_id,
    )
    return MergedArchival(holder, shown, when)


# Erasure: a merged row deleted with one of its members


async def rows_erased(session: AsyncSession, tenant: Tenant, erased: Sequence[str]) -> None:
    """An erasure deleted the AMS rows of these sync records and is deleting them: the other
    members of a merged row one of them was in lost that row. Their bookkeeping forgets it and
    they are pending at once, so the next sync shows them again (rows of their own, or a merged
    row of those still linked) instead of when they next change."""
    synced = AmsSyncRecord
    mine = (synced.client_id == tenant.client_id, synced.livemode == tenant.livemode)
    holders: dict[str, set[str]] = defaultdict(set)  # entity → merged rows' holders
    for chunk in _chunks(erased):
        rows = await session.execute(
            select(synced.entity, synced.merged_into).where(
                *mine, synced.id.in_(chunk), synced.merged_into.is_not(None)
            )
        )
        for entity, holder in rows:
            holders[entity].add(str(holder))
    gone = set(erased)
    for entity, held in sorted(holders.items()):
        members: list[tuple[str, Key]] = []
        for chunk in _chunks(held):
            found = await session.execute(
                select(synced.id, synced.source_platform, synced.external_id).where(
                    *mine, synced.entity == entity, synced.merged_into.in_(chunk)
                )
            )
            members += [(row[0], (row[1], row[2])) for row in found if row[0] not in gone]
        await _forget_rows(session, tenant, Entity(entity), members)


async def _forget_rows(
    session: AsyncSession, tenant: Tenant, entity: Entity, members: list[tuple[str, Key]]
) -> None:
    if not members:
        return
    for chunk in _chunks(sync_id for sync_id, _ in members):
        await session.execute(
            update(AmsSyncRecord)
            .where(AmsSyncRecord.client_id == tenant.client_id, AmsSyncRecord.id.in_(chunk))
            .values(
                airtable_record_id=None,
                merged_into=None,
                field_hashes={},
                content_hash="",  # differs from every canonical hash: written again
                updated_at=datetime.now(UTC),
            )
            .execution_options(synchronize_session=False)
        )
    await mark_pending(session, tenant, entity, [key for _, key in members])
    await mark_sync_due(session, tenant, entity)


# Reconciliation: a merged row is expected to hold the merged values


@dataclass(frozen=True)
class MergedRow:
    data: dict[str, Any]  # what the field map reads
    identity_cells: dict[str, Any]


async def merged_expectations(
    session: AsyncSession,
    tenant: Tenant,
    table_map: TableMap,
    policy: Policy,
    holder_ids: Sequence[str],
) -> dict[str, MergedRow | None]:
    """Per holder, the cells its merged row should hold (the merged data's columns and the
    identity columns); None while one of its members is not settled (its change not yet
    written, refused, or placed with another policy version), so it is not judged."""
    applied = await policy_applied(session, tenant, table_map.entity, policy)
    members: dict[str, list[tuple[CanonicalRecord, AmsSyncRecord]]] = defaultdict(list)
    for chunk in _chunks(holder_ids):
        rows = await session.execute(
            select(CanonicalRecord, AmsSyncRecord)
            .join(AmsSyncRecord, same_record(AmsSyncRecord, CanonicalRecord))
            .where(*scoped(AmsSyncRecord, tenant, table_map.entity))
            .where(AmsSyncRecord.merged_into.in_(chunk))
        )
        for record, synced in rows:
            members[str(synced.merged_into)].append((record, synced))
    expected: dict[str, MergedRow | None] = {}
    for holder_id in holder_ids:
        found = members.get(holder_id, [])
        holder = next((r for r, s in found if s.id == holder_id), None)
        if not applied or holder is None or not all(_settled(table_map, r, s) for r, s in found):
            expected[holder_id] = None
            continue
        records = [r for r, _ in found]
        value = _value(policy, holder)
        data = merged_data(records, holder, policy)
        identity = f"{policy.identity}:{value}" if value is not None else None
        extra = identity_cells(table_map, identity, sorted(key_of(r) for r in records))
        expected[holder_id] = MergedRow(data, extra)
    return expected


def _settled(table_map: TableMap, record: CanonicalRecord, synced: AmsSyncRecord) -> bool:
    return (
        synced.status == RecordSyncStatus.SYNCED.value
        and synced.content_hash == record.content_hash
        and synced.map_version == table_map.version
    )
