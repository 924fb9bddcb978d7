"""Repair: the normal AMS sync rewrites what an audit found wrong; nothing else writes rows.

- a missing row: its bookkeeping forgets the Airtable record id and the column hashes, so the
  sync sends every column again and its upsert (on External ID + Source) recreates the row;
- differing columns: their stored hashes are replaced by a value no hash equals, so the sync
  sends exactly those columns again (an emptied one as null);
- in both cases `map_version` is set to REPAIR_MAP_VERSION: the sync looks at records whose
  content or field map changed, and no field map has that version, so it picks them up;
- duplicate rows are deleted first (through the AMS write layer's deleter, paced like every
  write): an upsert matching two rows would fail.
Then the sync is marked due in the same transaction, and dispatched after it commits.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams.archival import scoped
from app.ams.deletion import AmsTable, delete_rows
from app.ams.due import mark_sync_due
from app.ams.models import AmsSyncRecord
from app.contracts.entities import Entity
from app.db.in_lists import in_lists
from app.reconciliation.compare import Finding, Key
from app.reconciliation.models import MismatchKind
from app.reconciliation.snapshot import IN_CHUNK
from app.settings import Settings
from app.tenancy.models import Tenant

REPAIR_MAP_VERSION = -1
REWRITE = "reconcile:rewrite"  # a column hash no value has


async def delete_duplicates(
    settings: Settings, tenant: Tenant, target: AmsTable, findings: Sequence[Finding]
) -> int:
    doomed = [f.airtable_record_id for f in findings if f.kind is MismatchKind.DUPLICATE]
    return await delete_rows(settings, tenant, target, [i for i in doomed if i])


async def requeue(
    session: AsyncSession, tenant: Tenant, entity: Entity, findings: Sequence[Finding]
) -> int:
    """Mark the records of missing rows and differing columns for the sync; how many."""
    wanted: dict[Key, Finding] = {
        f.key: f for f in findings if f.key and f.kind in {MismatchKind.MISSING, MismatchKind.FIELD}
    }
    if not wanted:
        return 0
    now, requeued = datetime.now(UTC), 0
    for row in await _sync_records(session, tenant, entity, sorted({k[1] for k in wanted})):
        finding = wanted.get((row.source_platform, row.external_id))
        if finding is None:
            continue
        row.field_hashes = _rewritten(finding, row.field_hashes)
        if finding.kind is MismatchKind.MISSING:
            row.airtable_record_id = None
        row.map_version = REPAIR_MAP_VERSION
        row.updated_at = now
        requeued += 1
    if requeued:
        await mark_sync_due(session, tenant, entity)
    return requeued


async def _sync_records(
    session: AsyncSession, tenant: Tenant, entity: Entity, external_ids: list[str]
) -> list[AmsSyncRecord]:
    found: list[AmsSyncRecord] = []
    for chunk in in_lists(external_ids, IN_CHUNK):
        found += await session.scalars(
            select(AmsSyncRecord).where(
                *scoped(AmsSyncRecord, tenant, entity), AmsSyncRecord.external_id.in_(chunk)
            )
        )
    return found


def _rewritten(finding: Finding, hashes: dict[str, str]) -> dict[str, Any]:
    if finding.kind is MismatchKind.MISSING:
        return {}
    return {**hashes, **dict.fromkeys(finding.columns, REWRITE)}
