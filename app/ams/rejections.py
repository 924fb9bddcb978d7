"""Records the AMS refused, held in the quarantine (stage `ams`) beside the records that failed
validation, so they are found, fixed, replayed and discarded the same way.

Such a record passed the gateway: what failed is its canonical form in Airtable. Its entry holds
no staged raw input (position -1); its attempt is the canonical record, its job the one that
brought the current content. One OPEN entry per record at most: a new refusal updates it. A sync
that writes the record resolves it; fixing or replaying it sends the record to the AMS again.

A record whose writes kept failing for a transient reason until its attempts ran out
(app.ams.retries) is held the same way with status EXHAUSTED; a refusal or a write settles it
as any open entry.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams import retries
from app.ams.archival import by_key
from app.ams.due import mark_pending, mark_sync_due
from app.ams.fieldmap import TableMap
from app.ams.models import AmsSyncRecord
from app.contracts.entities import Entity
from app.db.in_lists import in_lists
from app.db.models import CanonicalRecord, IngestJob
from app.ids import new_id
from app.quarantine.models import QuarantinedRecord, QuarantineStage, QuarantineStatus
from app.tenancy.models import Tenant

log = structlog.get_logger("gateway.ams")

AMS_REJECTED = "ams_rejected"  # Airtable refused the row (its 422 error type and message)
ASSET_REJECTED = "asset_rejected"  # the asset's file could not be fetched or was refused
AMS_EXHAUSTED = "ams_exhausted"  # transient failures (5xx, timeouts, ...) until retries ran out
HELD = (QuarantineStatus.OPEN.value, QuarantineStatus.EXHAUSTED.value)
NO_RAW_INPUT = -1
JOB_IDS_PER_QUERY = 500
Key = tuple[str, str]  # (source_platform, external_id)
_QUOTED = re.compile(r'"+([^"]+)"+')


@dataclass(frozen=True)
class Refusal:
    record: CanonicalRecord
    code: str
    error_type: str
    message: str


def field_path(table_map: TableMap, refusal: Refusal) -> str:
    """The standard field behind the column Airtable names (or whose select lacks the option
    it names); empty (the whole record) when no column maps back."""
    if refusal.code == ASSET_REJECTED:
        return "source_url"
    if refusal.code == AMS_EXHAUSTED:
        return ""
    quoted = set(_QUOTED.findall(refusal.message))
    for column in table_map.columns:
        if column.name in quoted:
            return column.paths[0]
    for column in table_map.columns:
        value = column.value(refusal.record.data) if column.select else None
        values = value if isinstance(value, list) else [value]
        if value is not None and quoted & {str(v) for v in values}:
            return column.paths[0]
    return ""


def _errors(table_map: TableMap, refusal: Refusal) -> list[dict[str, Any]]:
    refused_by = {
        AMS_REJECTED: "Airtable refused the record",
        AMS_EXHAUSTED: "The AMS write kept failing until its retries ran out",
    }.get(refusal.code, "The AMS")
    return [
        {
            "code": refusal.code,
            "message": f"{refused_by} ({refusal.error_type}): {refusal.message}",
            "path": field_path(table_map, refusal),
            "rule_id": None,
            "value": None,
            "error_type": refusal.error_type,
        }
    ]


def _held_entries(tenant: Tenant, entity: Entity, keyed: Any) -> Any:
    """The record's entry waiting for a person: OPEN (refused) or EXHAUSTED. `keyed`: a clause
    of `by_key` (one statement whatever the number of records; see app.ams.retries)."""
    table = QuarantinedRecord
    return and_(
        table.client_id == tenant.client_id,
        table.livemode == tenant.livemode,
        table.entity == entity.value,
        table.stage == QuarantineStage.AMS.value,
        table.status.in_(HELD),
        keyed,
    )


async def hold(
    session: AsyncSession, tenant: Tenant, table_map: TableMap, refusals: Sequence[Refusal]
) -> None:
    """In the transaction that records the refusals: a new OPEN entry per record, or its held
    one updated (errors, attempt, job, attempts + 1). A refusal is an answer: the record's
    transient attempts are forgotten."""
    await _hold(session, tenant, table_map, refusals, QuarantineStatus.OPEN)


async def exhaust(
    session: AsyncSession, tenant: Tenant, table_map: TableMap, refusals: Sequence[Refusal]
) -> None:
    """As `hold`, for records whose attempts ran out (code AMS_EXHAUSTED): status EXHAUSTED."""
    await _hold(session, tenant, table_map, refusals, QuarantineStatus.EXHAUSTED)


async def _hold(
    session: AsyncSession,
    tenant: Tenant,
    table_map: TableMap,
    refusals: Sequence[Refusal],
    status: QuarantineStatus,
) -> None:
    if not refusals:
        return
    entity = table_map.entity
    keys = [(r.record.source_platform, r.record.external_id) for r in refusals]
    await retries.forget(session, tenant, entity.value, keys)
    entries: list[QuarantinedRecord] = []
    for keyed in by_key(QuarantinedRecord, keys):
        entries += await session.scalars(
            select(QuarantinedRecord).where(_held_entries(tenant, entity, keyed))
        )
    held = {(entry.source_platform, entry.external_id): entry for entry in entries}
    wanted_jobs = {refusal.record.last_job_id for refusal in refusals}
    jobs: set[str] = set()
    for chunk in in_lists(sorted(wanted_jobs), JOB_IDS_PER_QUERY):
        jobs |= set(await session.scalars(select(IngestJob.id).where(IngestJob.id.in_(chunk))))
    now = datetime.now(UTC)
    for refusal in refusals:
        record = refusal.record
        entry = held.get((record.source_platform, record.external_id))
        if entry is not None:
            entry.status = status.value
            entry.errors = _errors(table_map, refusal)
            entry.mapped = record.data
            entry.attempts += 1
            entry.updated_at = now
            entry.job_id = record.last_job_id if record.last_job_id in jobs else entry.job_id
            continue
        if record.last_job_id not in jobs:  # its job was purged: nothing left to point at
            log.warning("ams.rejection_not_held", external_id=record.external_id)
            continue
        session.add(_new_entry(tenant, table_map, refusal, status, now))


def _new_entry(
    tenant: Tenant,
    table_map: TableMap,
    refusal: Refusal,
    status: QuarantineStatus,
    now: datetime,
) -> QuarantinedRecord:
    record = refusal.record
    return QuarantinedRecord(
        id=new_id("qr"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        job_id=record.last_job_id,
        position=NO_RAW_INPUT,
        stage=QuarantineStage.AMS.value,
        entity=record.entity,
        source_platform=record.source_platform,
        raw_platform=None,
        external_id=record.external_id,
        status=status.value,
        mapped=record.data,
        patches=None,
        errors=_errors(table_map, refusal),
        rule_ids="",
        attempts=1,
        created_at=now,
        updated_at=now,
    )


async def resolve(
    session: AsyncSession, tenant: Tenant, entity: Entity, keys: Sequence[Key]
) -> None:
    """The AMS took these records now: their held entries are RESOLVED, their transient
    attempts forgotten."""
    if not keys:
        return
    await retries.forget(session, tenant, entity.value, keys)
    now = datetime.now(UTC)
    for keyed in by_key(QuarantinedRecord, keys):
        await session.execute(
            update(QuarantinedRecord)
            .where(_held_entries(tenant, entity, keyed))
            .values(
                status=QuarantineStatus.RESOLVED.value,
                resolved_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )


async def send_again(
    session: AsyncSession, tenant: Tenant, records: Sequence[tuple[str, str, str]]
) -> None:
    """Have the next sync send these (entity, source_platform, external_id) records again even
    when their content did not change (e.g. the base was corrected), with a fresh budget of
    attempts, and mark it due."""
    table = AmsSyncRecord
    for entity in sorted({entity for entity, _, _ in records}):
        keys = [(p, e) for kind, p, e in records if kind == entity]
        await retries.forget(session, tenant, entity, keys)
        for keyed in by_key(table, keys):
            await session.execute(
                update(table)
                .where(
                    table.client_id == tenant.client_id,
                    table.livemode == tenant.livemode,
                    table.entity == entity,
                    keyed,
                )
                .values(content_hash="")  # differs from every canonical hash: sent again
                .execution_options(synchronize_session=False)
            )
        await mark_pending(session, tenant, Entity(entity), keys)
        await mark_sync_due(session, tenant, Entity(entity))
