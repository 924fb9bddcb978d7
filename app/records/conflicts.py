"""Conflicts between records, resolved before a chunk is stored and when linked records are read.

Rules (each decision is kept in `record_resolutions`, see app.records.resolutions):
- Same external id in one batch: the newest `source_updated_at` is kept (app.jobs.processing);
  a different older copy is recorded (`duplicate_in_batch`).
- An older `source_updated_at` never overwrites a newer stored record: counted and recorded
  `stale` (the upsert's WHERE clause keeps this under races, app.records.service) — except an
  unsubscribe (below).
- Email consent (audience): an unsubscribe from any platform wins over consent that is not newer,
  whatever the field owners say (app.records.consent).
- Identity (products by SKU, people by email, unless the client's policy names another key):
  product records of different platforms with one value are one product (`linked`); two records
  of one platform with one value are both kept and flagged (`duplicate_sku`)
  (app.records.identity). Every entity's records are indexed under its key for `linked_record`.
- Linked records read as one (`linked_record`): each field from the platform that owns it in the
  client's policy, else from the newest record that has it; `field_sources` says which and why.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord
from app.records.consent import (
    UNSUBSCRIBED,
    consent_of,
    settle_audience_consent,
    unsubscribe_wins,
)
from app.records.identity import link_records, members
from app.records.policies import Policy, current_policy
from app.records.resolutions import Resolution, ResolutionKind, record_resolutions
from app.records.service import RecordKey, StoredState
from app.records.validation import ValidRecord
from app.tenancy.models import Tenant

WHOLE = frozenset({"external_id", "source_platform", "source_updated_at", "attributes"})


@dataclass(frozen=True)
class Superseded:
    key: RecordKey
    kept: ValidRecord
    dropped: ValidRecord


async def settle(
    session: AsyncSession,
    tenant: Tenant,
    entity: Entity,
    job_id: str,
    records: dict[RecordKey, ValidRecord],
    states: Mapping[RecordKey, StoredState],
    superseded: Sequence[Superseded] = (),
    policy: Policy | None = None,
) -> dict[RecordKey, ValidRecord]:
    """The chunk's records after conflict resolution, before they are decided and stored.
    `superseded`: the older of two different records with one external id in the chunk;
    `policy`: the conflict policy to apply (default: the job's, see `job_policy`)."""
    await record_resolutions(session, tenant, entity, job_id, [_dropped(s) for s in superseded])
    written = {
        key
        for key, record in records.items()
        if key not in states or record.source_updated_at >= states[key].source_updated_at
    }
    if len(written) < len(records):
        stale = [_stale(key, records[key], states[key]) for key in records if key not in written]
        await record_resolutions(session, tenant, entity, job_id, stale)
    if entity is Entity.AUDIENCE:
        return await settle_audience_consent(session, tenant, job_id, records, written)
    if entity is not Entity.PRODUCT:
        return records
    policy = policy or await job_policy(session, tenant, entity, job_id)
    if policy.identity is not None:
        fresh = {key: records[key] for key in written}
        await link_records(session, tenant, entity, job_id, fresh, policy.identity)
    return records


def _dropped(found: Superseded) -> Resolution:
    detail = {
        "kept_source_updated_at": found.kept.data["source_updated_at"],
        "dropped_source_updated_at": found.dropped.data["source_updated_at"],
        "rule": "one external id twice in a batch: the newest source_updated_at is kept",
    }
    return Resolution(found.key, ResolutionKind.DUPLICATE_IN_BATCH, None, detail)


def _stale(key: RecordKey, record: ValidRecord, stored: StoredState) -> Resolution:
    detail = {
        "incoming_source_updated_at": record.data["source_updated_at"],
        "stored_source_updated_at": stored.source_updated_at.isoformat().replace("+00:00", "Z"),
        "rule": "an older source_updated_at never overwrites a newer stored record",
    }
    return Resolution(key, ResolutionKind.STALE, None, detail)


_JOB_POLICIES: dict[str, Policy] = {}
MAX_JOB_POLICIES = 256


async def job_policy(session: AsyncSession, tenant: Tenant, entity: Entity, job_id: str) -> Policy:
    """The policy a job's chunks are settled with: read at its first chunk (a change applies
    from the next job on), so later chunks cost no query."""
    found = _JOB_POLICIES.get(job_id)
    if found is None:
        if len(_JOB_POLICIES) >= MAX_JOB_POLICIES:
            _JOB_POLICIES.clear()
        found = _JOB_POLICIES[job_id] = await current_policy(session, tenant, entity)
    return found


@dataclass(frozen=True)
class LinkedRecord:
    entity: Entity
    identity: str
    members: list[CanonicalRecord]
    data: dict[str, Any]
    field_sources: dict[str, dict[str, str]]
    policy_version: int


def _source(row: CanonicalRecord, reason: str) -> dict[str, str]:
    return {
        "source_platform": row.source_platform,
        "external_id": row.external_id,
        "reason": reason,
    }


def _pick(
    rows: Sequence[CanonicalRecord], read: Any, owner: str | None
) -> tuple[Any, dict[str, str]] | None:
    """The owner's value when the owner has one, else the newest record's (rows newest first)."""
    if owner is not None:
        for row in rows:
            if row.source_platform == owner and read(row) is not None:
                return read(row), _source(row, "owner")
    for row in rows:
        if read(row) is not None:
            return read(row), _source(row, "owner absent; newest" if owner else "newest")
    return None


def _consent(rows: Sequence[CanonicalRecord], merged: dict[str, Any]) -> dict[str, str] | None:
    """An unsubscribe among the records wins over the picked consent unless that is newer."""
    picked = consent_of(("", ""), merged)
    for row in rows:
        fact = consent_of((row.source_platform, row.external_id), dict(row.data))
        if fact.state == UNSUBSCRIBED and unsubscribe_wins(fact, picked):
            merged["email_consent"] = UNSUBSCRIBED
            merged["consent_updated_at"] = fact.at_text
            return _source(row, "unsubscribe wins")
    return None


def _attributes(row: CanonicalRecord) -> dict[str, Any]:
    found = row.data.get("attributes")
    return found if isinstance(found, dict) else {}


def merge(rows: Sequence[CanonicalRecord], policy: Policy) -> tuple[dict[str, Any], Any]:
    """Linked records as one: field by field (attributes key by key)."""
    rows = sorted(rows, key=lambda row: row.source_updated_at, reverse=True)
    merged: dict[str, Any] = {"source_updated_at": rows[0].data["source_updated_at"]}
    sources: dict[str, dict[str, str]] = {}
    names = sorted({name for row in rows for name in row.data} - WHOLE)
    for name in names:
        found = _pick(rows, lambda row, n=name: row.data.get(n), policy.owners.get(name))
        if found is not None:
            merged[name], sources[name] = found
    keys = sorted({key for row in rows for key in _attributes(row)})
    attributes = {}
    for key in keys:
        path = f"attributes.{key}"
        found = _pick(rows, lambda row, k=key: _attributes(row).get(k), policy.owners.get(path))
        if found is not None:
            attributes[key], sources[path] = found
    merged["attributes"] = attributes
    if policy.entity is Entity.AUDIENCE and (consent := _consent(rows, merged)):
        sources["email_consent"] = sources["consent_updated_at"] = consent
    return merged, sources


async def linked_record(
    session: AsyncSession, tenant: Tenant, entity: Entity, identity: str
) -> LinkedRecord | None:
    """The records sharing an identity value, read as one; None when there are none."""
    policy = await current_policy(session, tenant, entity)
    if policy.identity is None:
        return None
    found = await members(session, tenant, entity, policy.identity, identity)
    if not found:
        return None
    data, sources = merge(found, policy)
    return LinkedRecord(entity, identity, found, data, sources, policy.version)
