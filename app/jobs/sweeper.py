"""The sweeper: the database, not the queue, decides which jobs still need a worker.

A QUEUED job whose dispatch is older than the redispatch window (its queue message was lost, or a
retry is due) and a PROCESSING job whose lease expired (its worker died) are dispatched again.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import IngestJob
from app.jobs.models import JobStatus
from app.settings import Settings

SWEEP_BATCH = 500


async def due_job_ids(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> list[str]:
    """Ids to dispatch again; jobs whose workers died too often are failed instead."""
    await fail_exhausted_jobs(sessions, settings)
    now = datetime.now(UTC)
    redispatch_before = now - timedelta(seconds=settings.job_redispatch_after_seconds)
    async with sessions() as session, session.begin():
        ids = list(
            await session.scalars(
                select(IngestJob.id)
                .where(
                    or_(
                        and_(
                            IngestJob.status == JobStatus.QUEUED.value,
                            IngestJob.dispatched_at < redispatch_before,
                        ),
                        and_(
                            IngestJob.status == JobStatus.PROCESSING.value,
                            IngestJob.lease_expires_at < now,
                            or_(
                                IngestJob.dispatched_at.is_(None),
                                IngestJob.dispatched_at < redispatch_before,
                            ),
                        ),
                    )
                )
                .order_by(IngestJob.id)
                .limit(SWEEP_BATCH)
            )
        )
        if ids:
            await session.execute(
                update(IngestJob).where(IngestJob.id.in_(ids)).values(dispatched_at=now)
            )
    return ids


async def fail_exhausted_jobs(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """A job whose worker died on every attempt (a crash, an out-of-memory kill) would be
    picked up forever; after the last attempt it is failed, visibly, instead."""
    now = datetime.now(UTC)
    reason = (
        f"The worker processing this job stopped {settings.job_max_attempts} times without "
        "finishing; the job was stopped. Records already stored are kept."
    )
    async with sessions() as session, session.begin():
        failed = await session.execute(
            update(IngestJob)
            .where(
                IngestJob.status == JobStatus.PROCESSING.value,
                IngestJob.lease_expires_at < now,
                IngestJob.attempts >= settings.job_max_attempts,
            )
            .values(
                status=JobStatus.FAILED.value,
                finished_at=now,
                failure_reason=reason,
                lease_token=None,
                lease_expires_at=None,
            )
        )
    return int(failed.rowcount)  # type: ignore[attr-defined]
