"""Subject access: everything the gateway holds about one person, as one JSON document, found
the way an erasure finds it (app.privacy.footprint)."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import exact_json
from app.ams.models import AmsSyncRecord
from app.db.models import CanonicalRecord, IngestJob, StagedRecord
from app.privacy.footprint import at_positions, resolve
from app.privacy.identifiers import Subject, subject_hash
from app.privacy.models import ErasureRun
from app.privacy.suppression import suppressed
from app.quarantine.models import QuarantinedRecord
from app.records.resolutions import RecordResolution
from app.settings import Settings
from app.tenancy.models import Tenant
from app.webhooks.models import WebhookNotice


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


async def _canonical(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(CanonicalRecord).where(CanonicalRecord.id.in_(ids)).order_by(CanonicalRecord.id)
    )
    return [
        {
            "id": row.id,
            "entity": row.entity,
            "source_platform": row.source_platform,
            "external_id": row.external_id,
            "data": row.data,
            "version": row.version,
            "source_updated_at": _when(row.source_updated_at),
            "created_at": _when(row.created_at),
            "updated_at": _when(row.updated_at),
            "last_job_id": row.last_job_id,
        }
        for row in rows
    ]


async def _raw(session: AsyncSession, positions: list[tuple[str, int]]) -> list[dict[str, Any]]:
    if not positions:
        return []
    rows = await session.execute(
        select(StagedRecord.job_id, StagedRecord.position, StagedRecord.payload)
        .where(at_positions(StagedRecord.job_id, StagedRecord.position, positions))
        .order_by(StagedRecord.job_id, StagedRecord.position)
    )
    return [
        {"job_id": job_id, "position": position, "payload": exact_json.loads(payload)}
        for job_id, position, payload in rows
    ]


async def _quarantine(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(QuarantinedRecord)
        .where(QuarantinedRecord.id.in_(ids))
        .order_by(QuarantinedRecord.id)
    )
    return [
        {
            "id": row.id,
            "status": row.status,
            "job_id": row.job_id,
            "position": row.position,
            "source_platform": row.source_platform,
            "external_id": row.external_id,
            "mapped": row.mapped,
            "errors": row.errors,
            "created_at": _when(row.created_at),
            "updated_at": _when(row.updated_at),
        }
        for row in rows
    ]


async def _ams_rows(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(AmsSyncRecord).where(AmsSyncRecord.id.in_(ids)).order_by(AmsSyncRecord.id)
    )
    return [
        {
            "airtable_record_id": row.airtable_record_id,
            "source_platform": row.source_platform,
            "external_id": row.external_id,
            "status": row.status,
            "error_type": row.error_type,
            "synced_at": _when(row.synced_at),
        }
        for row in rows
    ]


async def _history(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(RecordResolution).where(RecordResolution.id.in_(ids)).order_by(RecordResolution.id)
    )
    return [
        {
            "source_platform": row.source_platform,
            "external_id": row.external_id,
            "kind": row.kind,
            "field": row.field,
            "detail": row.detail,
            "job_id": row.job_id,
            "created_at": _when(row.created_at),
        }
        for row in rows
    ]


async def _notices(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(WebhookNotice).where(WebhookNotice.id.in_(ids)).order_by(WebhookNotice.id)
    )
    return [
        {
            "id": row.id,
            "source": row.source,
            "topic": row.topic,
            "object_id": row.object_id,
            "payload": row.payload,
            "received_at": _when(row.received_at),
        }
        for row in rows
    ]


async def _jobs(session: AsyncSession, ids: set[str]) -> list[dict[str, Any]]:
    rows = await session.scalars(select(IngestJob).where(IngestJob.id.in_(sorted(ids))))
    return [
        {
            "id": job.id,
            "door": job.door,
            "status": job.status,
            "source_platform": job.source_platform,
            "created_at": _when(job.created_at),
        }
        for job in sorted(rows, key=lambda job: job.id)
    ]


async def _erasures(session: AsyncSession, tenant: Tenant, hashed: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(ErasureRun)
        .where(
            ErasureRun.client_id == tenant.client_id,
            ErasureRun.livemode == tenant.livemode,
            ErasureRun.subject_hash == hashed,
        )
        .order_by(ErasureRun.id)
    )
    return [
        {
            "run_id": run.id,
            "status": run.status,
            "removed": run.removed,
            "created_at": _when(run.created_at),
            "completed_at": _when(run.completed_at),
        }
        for run in rows
    ]


async def export_subject(
    session: AsyncSession, settings: Settings, tenant: Tenant, subject: Subject
) -> dict[str, Any]:
    """Tenant-scoped like everything else: another client's person is simply not found."""
    found = await resolve(session, tenant, subject)
    canonical = await _canonical(session, found.canonical)
    quarantine = await _quarantine(session, found.quarantine)
    jobs = {record["last_job_id"] for record in canonical}
    jobs |= {job_id for job_id, _ in found.positions}
    hashed = subject_hash(settings, tenant, subject)
    return {
        "identifier_kind": subject.kind.value,
        "platform": subject.platform.value if subject.platform else None,
        "canonical_records": canonical,
        "raw_payloads": await _raw(session, found.staged),
        "quarantine_entries": quarantine,
        "record_history": await _history(session, found.history),
        "ams_rows": await _ams_rows(session, found.sync_records),
        "webhook_notices": await _notices(session, found.notices),
        "jobs": await _jobs(session, jobs),
        "erasures": await _erasures(session, tenant, hashed),
        "suppressed": bool(await suppressed(session, tenant, [hashed])),
    }
