"""arq worker settings and tasks, run by `gateway worker`. Thin: ids in, one service call."""

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from app.db.engine import create_engine, create_session_factory
from app.jobs.dispatch import PROCESS_JOB_TASK
from app.jobs.processing import run_job
from app.jobs.sweeper import due_job_ids
from app.logs import configure_logging
from app.services import tune_garbage_collector
from app.settings import Settings, get_settings
from app.transform.loader import mappings


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.setdefault("settings", get_settings())
    configure_logging(settings.log_level)
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessions"] = create_session_factory(ctx["engine"])
    mappings()  # a broken mapping rule file stops the worker at start-up
    tune_garbage_collector()
    await sweep(ctx)  # recover what died with earlier workers before taking new work


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


async def process_job(ctx: dict[str, Any], job_id: str) -> str | None:
    status = await run_job(ctx["sessions"], job_id, ctx["settings"])
    return status.value if status else None


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-dispatch jobs whose message was lost or whose worker died (see app.jobs.sweeper)."""
    job_ids = await due_job_ids(ctx["sessions"], ctx["settings"])
    for job_id in job_ids:
        await ctx["redis"].enqueue_job(PROCESS_JOB_TASK, job_id)
    return len(job_ids)


def worker_settings(
    settings: Settings | None = None, burst: bool = False, **overrides: Any
) -> dict[str, Any]:
    """Keyword arguments for arq.Worker. A burst worker sweeps once at start-up only: a periodic
    sweep would keep its queue from ever being empty."""
    settings = settings or get_settings()
    if not settings.redis_url:
        raise ValueError("GATEWAY_REDIS_URL must be set to run an arq worker")
    every = max(1, round(settings.sweeper_interval_seconds))
    return {
        "functions": [process_job],
        "cron_jobs": [] if burst else [cron(sweep, second=set(range(0, 60, every)))],
        "burst": burst,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.arq_queue_name,
        "keep_result": 60,
        "job_timeout": 600,
        "max_tries": 5,
        **overrides,
    }
