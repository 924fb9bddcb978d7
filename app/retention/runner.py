"""Running the retention purge: hourly in the embedded shape (a task in the API process), and
as an arq cron job in the scale-out shape (workers/arq_worker.py), where the API processes don't."""

from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.observability.metrics import RETENTION_RUNS
from app.periodic import Periodic
from app.retention.purge import purge_all
from app.settings import Settings

log = structlog.get_logger("gateway.retention")


async def run_purge(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """One purge of every tenant, counted in the runs metric (a failure is logged and raised)."""
    try:
        totals = await purge_all(sessions, settings, now or datetime.now(UTC))
    except Exception:
        RETENTION_RUNS.labels(result="failed").inc()
        log.exception("retention.purge_failed")
        raise
    RETENTION_RUNS.labels(result="ok").inc()
    log.info("retention.purge_finished", **totals)
    return totals


class RetentionPurger(Periodic):
    """Purges once at start-up, then every GATEWAY_RETENTION_PURGE_INTERVAL_SECONDS."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        super().__init__(
            "retention.purge",
            lambda: run_purge(sessions, settings),
            settings.retention_purge_interval_seconds,
        )
