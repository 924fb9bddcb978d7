"""Gauges read from the shared database at scrape time: job queue, quarantine, dead letters and
partner connections. Every process sees the same rows, so every process reports the same values
(aggregate with max()). A snapshot is reused for GATEWAY_METRICS_DATABASE_REFRESH_SECONDS, so
frequent scrapes from several Prometheus servers cost one round of queries.

Dead letters are work the gateway gave up on, each waiting for a person, counted when they gave up
within GATEWAY_METRICS_DEAD_LETTER_WINDOW_SECONDS:
- kind="job": ingest jobs FAILED because processing crashed on every attempt (not jobs whose
  records were all quarantined: those records wait in the quarantine, counted there);
- kind="event_delivery": change-event deliveries whose every retry failed (or answered 410); a
  replay takes them out;
- kind="quarantine": quarantined records whose retries for a transient failure ran out
  (EXHAUSTED); a replay or a discard takes them out.
"""

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.db.models import IngestJob
from app.events.models import DeliveryStatus, EventDelivery
from app.jobs.models import JobStatus
from app.observability.metrics import REGISTRY
from app.partner_reports.models import UNHEALTHY, ConnectionHealth
from app.quarantine.models import QuarantinedRecord, QuarantineStatus
from app.settings import Settings

log = structlog.get_logger("gateway.metrics")

DEAD_LETTER_KINDS = ("job", "event_delivery", "quarantine")


@dataclass(frozen=True)
class Snapshot:
    taken_at: float  # time.monotonic()
    queued: int = 0
    processing: int = 0
    oldest_queued_seconds: float = 0.0
    quarantine_open: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    unhealthy: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, mode) → n


async def _jobs(session: AsyncSession, now: datetime) -> tuple[int, int, float]:
    rows = await session.execute(
        select(IngestJob.status, func.count())
        .where(IngestJob.status.in_([JobStatus.QUEUED.value, JobStatus.PROCESSING.value]))
        .group_by(IngestJob.status)
    )
    counts: dict[str, int] = {status: count for status, count in rows}
    oldest = await session.scalar(
        select(func.min(IngestJob.created_at)).where(IngestJob.status == JobStatus.QUEUED.value)
    )
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return counts.get(JobStatus.QUEUED.value, 0), counts.get(JobStatus.PROCESSING.value, 0), age


async def _dead_letters(session: AsyncSession, settings: Settings, now: datetime) -> dict[str, int]:
    since = now - timedelta(seconds=settings.metrics_dead_letter_window_seconds)
    job = IngestJob
    jobs = await session.scalar(
        select(func.count()).where(
            job.status == JobStatus.FAILED.value,
            job.attempts >= settings.job_max_attempts,
            job.failure_reason.is_not(None),
            job.finished_at >= since,
        )
    )
    deliveries = await session.scalar(
        select(func.count()).where(
            EventDelivery.status == DeliveryStatus.FAILED.value, EventDelivery.updated_at >= since
        )
    )
    exhausted = await session.scalar(
        select(func.count()).where(
            QuarantinedRecord.status == QuarantineStatus.EXHAUSTED.value,
            QuarantinedRecord.updated_at >= since,
        )
    )
    return {"job": jobs or 0, "event_delivery": deliveries or 0, "quarantine": exhausted or 0}


async def _unhealthy(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.execute(
        select(ConnectionHealth.platform, ConnectionHealth.livemode, func.count())
        .where(ConnectionHealth.status.in_([status.value for status in UNHEALTHY]))
        .group_by(ConnectionHealth.platform, ConnectionHealth.livemode)
    )
    return {(platform, _mode(live)): n for platform, live, n in rows}


def _mode(livemode: bool) -> str:
    return "live" if livemode else "test"


async def take_snapshot(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Snapshot:
    now = datetime.now(UTC)
    async with reading(sessions) as session:
        queued, processing, oldest = await _jobs(session, now)
        quarantine_open = await session.scalar(
            select(func.count()).where(QuarantinedRecord.status == QuarantineStatus.OPEN.value)
        )
        dead = await _dead_letters(session, settings, now)
        unhealthy = await _unhealthy(session)
    return Snapshot(
        time.monotonic(), queued, processing, oldest, quarantine_open or 0, dead, unhealthy
    )


class DatabaseGauges(Collector):
    """Yields the latest snapshot; `refresh` (awaited by the /metrics route) renews it."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._refreshing = False  # a scrape during a refresh answers with the last snapshot

    async def refresh(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        """A failed read keeps the last snapshot (its age shows) and is logged."""
        current = self._snapshot
        fresh_for = settings.metrics_database_refresh_seconds
        if self._refreshing or (
            current is not None and time.monotonic() - current.taken_at < fresh_for
        ):
            return
        self._refreshing = True
        try:
            async with asyncio.timeout(settings.ready_timeout_seconds):
                self._snapshot = await take_snapshot(sessions, settings)
        except Exception as error:  # a scrape must still answer with the process metrics
            log.warning("metrics.database_unavailable", error=type(error).__name__, exc_info=True)
        finally:
            self._refreshing = False

    def describe(self) -> Iterable[Metric]:
        return list(self._families(Snapshot(0.0)))

    def collect(self) -> Iterable[Metric]:
        return [] if self._snapshot is None else list(self._families(self._snapshot))

    @staticmethod
    def _families(snap: Snapshot) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "gateway_jobs",
            "Ingest jobs waiting (queued) or running (processing).",
            labels=["status"],
        )
        jobs.add_metric(["queued"], snap.queued)
        jobs.add_metric(["processing"], snap.processing)
        yield jobs
        yield GaugeMetricFamily(
            "gateway_jobs_oldest_queued_age_seconds",
            "Age of the oldest queued ingest job (0 when none waits).",
            value=snap.oldest_queued_seconds,
        )
        yield GaugeMetricFamily(
            "gateway_quarantine_open",
            "Quarantined records waiting for a fix.",
            snap.quarantine_open,
        )
        dead = GaugeMetricFamily(
            "gateway_dead_letters",
            "Work given up on within the dead-letter window, by kind (job, event_delivery, "
            "quarantine); see app.observability.database.",
            labels=["kind"],
        )
        for kind in DEAD_LETTER_KINDS:
            dead.add_metric([kind], snap.dead_letters.get(kind, 0))
        yield dead
        unhealthy = GaugeMetricFamily(
            "gateway_partner_connection_unhealthy",
            "Partner platform connections last reported STALE, REVOKED or ERROR, by platform "
            "and mode (live, test).",
            labels=["platform", "mode"],
        )
        platforms = {p.value for p in SourcePlatform} | {p for p, _ in snap.unhealthy}
        for platform in sorted(platforms):  # 0 too, so a recovery moves the series down
            for mode in ("live", "test"):
                unhealthy.add_metric([platform, mode], snap.unhealthy.get((platform, mode), 0))
        yield unhealthy
        yield GaugeMetricFamily(
            "gateway_database_gauges_age_seconds",
            "Age of the snapshot the gateway_jobs… / dead-letter / connection gauges come from.",
            value=max(0.0, time.monotonic() - snap.taken_at) if snap.taken_at else 0.0,
        )


DATABASE_GAUGES = DatabaseGauges()
REGISTRY.register(DATABASE_GAUGES)
