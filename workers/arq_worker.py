"""arq worker settings and tasks, run by `gateway worker`. Thin by design: ids in, a service call."""

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from app.db.engine import create_engine, create_session_factory
from app.jobs.dispatch import PROCESS_JOB_TASK
from app.jobs.processing import run_job
from app.jobs.sweeper import due_job_ids
from app.logs import configure_logging
from app.settings import get_settings


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    ctx["settings"] = settings
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessions"] = create_session_factory(ctx["engine"])


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


async def process_job(ctx: dict[str, Any], job_id: str) -> str | None:
    status = await run_job(ctx["sessions"], job_id, ctx["settings"])
    return status.value if status else None


async def sweep(ctx: dict[str, Any]) -> int:
    job_ids = await due_job_ids(ctx["sessions"], ctx["settings"])
    for job_id in job_ids:
        await ctx["redis"].enqueue_job(PROCESS_JOB_TASK, job_id)
    return len(job_ids)


def worker_settings(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for arq.Worker; the CLI and tests adjust them (burst, poll delay)."""
    settings = get_settings()
    assert settings.redis_url, "GATEWAY_REDIS_URL must be set to run an arq worker"
    return {
        "functions": [process_job],
        "cron_jobs": [cron(sweep, second=set(range(0, 60, 10)), run_at_startup=True)],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.arq_queue_name,
        "keep_result": 60,
        "job_timeout": 600,
        "max_tries": 5,
        **overrides,
    }
