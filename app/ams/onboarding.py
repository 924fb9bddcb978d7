"""Onboarding, advanced by the pipeline: CONNECTED (provisioned) → FIRST_SYNC (a job was processed
and its sync began) → VALIDATED (the share of quarantined records is under the threshold) →
PRODUCTION_READY (the records are in the AMS with no rejections, none waiting for a retry). It
only moves forward; where it cannot, the reason says why and what to do."""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams.models import AmsSyncRecord, RecordSyncStatus
from app.ams.retries import AmsRecordRetry
from app.db.models import IngestJob
from app.provisioning.models import AmsProvisioning, OnboardingStatus
from app.provisioning.service import Services, get_provisioning
from app.tenancy.models import Tenant

# Records the AMS does not hold, and what to do about them (checked in this order).
HELD_BACK = {
    RecordSyncStatus.REJECTED: (
        "{count} record(s) were rejected by Airtable (see viewer.amsSync.rejected): "
        "fix them and push them again."
    ),
    RecordSyncStatus.EXHAUSTED: (
        "{count} record(s) could not be written to the AMS after every retry (see "
        "quarantine, status EXHAUSTED): replay them once the AMS answers again."
    ),
}

RETRYING = (
    "{count} record(s) failed to be written to the AMS for a passing reason (Airtable busy or "
    "unreachable) and are tried again after a backoff: nothing to do yet."
)


async def sync_started(services: Services, tenant: Tenant) -> None:
    """CONNECTED → FIRST_SYNC, once a job of the tenant has been processed."""
    async with services.sessions() as session, session.begin():
        row = await get_provisioning(session, tenant)
        if row is None or row.onboarding_status != OnboardingStatus.CONNECTED.value:
            return
        if await _finished_jobs(session, tenant) == 0:
            return
        row.onboarding_status = OnboardingStatus.FIRST_SYNC.value
        row.first_sync_at = datetime.now(UTC)
        row.updated_at = row.first_sync_at


async def sync_finished(
    session: AsyncSession, tenant: Tenant, started_at: datetime, threshold: float
) -> None:
    """FIRST_SYNC → VALIDATED → PRODUCTION_READY, as far as the evidence allows; in the
    transaction that records the sync, so both are seen together."""
    row = await get_provisioning(session, tenant)
    if row is None:
        return
    now = datetime.now(UTC)
    if row.onboarding_status == OnboardingStatus.FIRST_SYNC.value:
        await _validate(session, tenant, row, started_at, threshold, now)
    if row.onboarding_status == OnboardingStatus.VALIDATED.value:
        await _production_ready(session, tenant, row, now)
    row.updated_at = now


async def _validate(
    session: AsyncSession,
    tenant: Tenant,
    row: AmsProvisioning,
    started_at: datetime,
    threshold: float,
    now: datetime,
) -> None:
    """The quarantine rate of the jobs this sync carries (finished since the last check)."""
    job = IngestJob
    window = [
        job.client_id == tenant.client_id,
        job.livemode == tenant.livemode,
        job.finished_at.is_not(None),
        job.finished_at <= started_at,
    ]
    if row.onboarding_checked_at is not None:
        window.append(job.finished_at > row.onboarding_checked_at)
    received, quarantined = (
        await session.execute(
            select(
                func.coalesce(func.sum(job.received), 0),
                func.coalesce(func.sum(job.quarantined), 0),
            ).where(*window)
        )
    ).one()
    if not received:
        return
    row.onboarding_checked_at = started_at
    rate = quarantined / received
    if rate > threshold:
        row.onboarding_reason = (
            f"{rate:.1%} of the records pushed were quarantined (at most {threshold:.1%} may be "
            "before the data counts as validated): fix the record errors on the jobs and push "
            "the records again."
        )
        return
    row.onboarding_status = OnboardingStatus.VALIDATED.value
    row.validated_at = now
    row.onboarding_reason = None


async def _production_ready(
    session: AsyncSession, tenant: Tenant, row: AmsProvisioning, now: datetime
) -> None:
    counts = dict(
        (
            await session.execute(
                select(AmsSyncRecord.status, func.count())
                .where(
                    AmsSyncRecord.client_id == tenant.client_id,
                    AmsSyncRecord.livemode == tenant.livemode,
                )
                .group_by(AmsSyncRecord.status)
            )
        ).all()
    )
    if row.error:  # the AMS itself needs fixing first (e.g. app.provisioning.upgrade)
        row.onboarding_reason = row.error
        return
    for status, message in HELD_BACK.items():
        if held := counts.get(status.value, 0):
            row.onboarding_reason = message.format(count=held)
            return
    if retrying := await _retrying(session, tenant):
        row.onboarding_reason = RETRYING.format(count=retrying)
        return
    if not counts.get(RecordSyncStatus.SYNCED.value, 0):
        row.onboarding_reason = "No record has been written to the AMS yet."
        return
    row.onboarding_status = OnboardingStatus.PRODUCTION_READY.value
    row.production_ready_at = now
    row.onboarding_reason = None


async def _retrying(session: AsyncSession, tenant: Tenant) -> int:
    """Records waiting to be attempted again (app.ams.retries): not in the AMS yet."""
    retry = AmsRecordRetry
    found = await session.scalar(
        select(func.count())
        .select_from(retry)
        .where(retry.client_id == tenant.client_id, retry.livemode == tenant.livemode)
    )
    return int(found or 0)


async def _finished_jobs(session: AsyncSession, tenant: Tenant) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(IngestJob)
        .where(
            IngestJob.client_id == tenant.client_id,
            IngestJob.livemode == tenant.livemode,
            IngestJob.finished_at.is_not(None),
        )
    )
    return int(found or 0)
