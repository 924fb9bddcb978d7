"""The sweeper: the database, not the queue, decides which jobs still need a worker.

A QUEUED job whose dispatch is older than the redispatch window (its queue message was lost, or a
retry is due) and a PROCESSING job whose lease expired (its worker died) are dispatched again; a
job whose workers died on every attempt is failed instead. Looking is read-only, so an idle sweep
never takes SQLite's write lock.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import reading
from app.db.models import IngestJob
from app.jobs.models import JobStatus
from app.settings import Settings

SWEEP_BATCH = 500


def _due(now: datetime, settings: Settings) -> Any:
    redispatch_before = now - timedelta(seconds=settings.job_redispatch_after_seconds)
    recently_dispatched = IngestJob.dispatched_at >= redispatch_before
    return or_(
        and_(IngestJob.status == JobStatus.QUEUED.value, ~recently_dispatched),
        and_(
            IngestJob.status == JobStatus.PROCESSING.value,
            IngestJob.lease_expires_at < now,
            or_(
                IngestJob.dispatched_at.is_(None),
                ~recently_dispatched,
                IngestJob.attempts >= settings.job_max_attempts,
            ),
        ),
    )


async def due_job_ids(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> list[str]:
    """Ids to dispatch again (each claimed for one redispatch window)."""
    now = datetime.now(UTC)
    async with reading(sessions) as session:
        found = (
            await session.execute(
                select(IngestJob.id, IngestJob.attempts)
                .where(_due(now, settings))
                .order_by(IngestJob.id)
                .limit(SWEEP_BATCH)
            )
        ).all()
    if not found:
        return []
    exhausted = [job_id for job_id, attempts in found if attempts >= settings.job_max_attempts]
    retry = [job_id for job_id, attempts in found if attempts < settings.job_max_attempts]
    async with sessions() as session, session.begin():
        if exhausted:
            await _fail_exhausted(session, exhausted, now, settings)
        if not retry:
            return []
        claimed = await session.scalars(
            update(IngestJob)
            .where(IngestJob.id.in_(retry), _due(now, settings))
            .values(dispatched_at=now)
            .returning(IngestJob.id)
        )
        return sorted(claimed)


async def _fail_exhausted(
    session: AsyncSession, job_ids: list[str], now: datetime, settings: Settings
) -> None:
    """A job whose worker died on every attempt (a crash, an out-of-memory kill) would be
    picked up forever; after the last attempt it is failed, visibly, instead."""
    reason = (
        f"The worker processing this job stopped {settings.job_max_attempts} times without "
        "finishing; the job was stopped. Records already stored are kept."
    )
    await session.execute(
        update(IngestJob)
        .where(
            IngestJob.id.in_(job_ids),
            IngestJob.status == JobStatus.PROCESSING.value,
            IngestJob.lease_expires_at < now,
        )
        .values(
            status=JobStatus.FAILED.value,
            finished_at=now,
            failure_reason=reason,
            lease_token=None,
            lease_expires_at=None,
        )
    )
