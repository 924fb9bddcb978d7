"""arq worker settings and tasks, run by `gateway worker`. Thin: ids in, one service call."""

import signal
from functools import partial
from typing import Any

from arq import Worker, cron
from arq.connections import RedisSettings

from app.ams.due import claim_due_syncs, job_sync_key, key_parts
from app.ams.service import AmsRuntime, run_sync
from app.db.engine import create_engine, create_session_factory
from app.events.relay import WorkerDelivery
from app.jobs.dispatch import PROCESS_JOB_TASK, SYNC_AMS_TASK
from app.jobs.processing import run_job
from app.jobs.sweeper import due_job_ids
from app.logs import configure_logging
from app.observability.exposition import serve_worker_metrics
from app.reconciliation.runner import run_due_audits
from app.retention.runner import run_purge
from app.rules.loader import default_rules
from app.services import tune_garbage_collector
from app.settings import Settings, get_settings
from app.transform.loader import mappings

RETENTION_PURGE_MINUTE = 17  # hourly, off the top of the hour
RECONCILIATION_MINUTE = 41  # hourly look for due daily audits (app.reconciliation.runner)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.setdefault("settings", get_settings())
    configure_logging(settings.log_level)
    serve_worker_metrics(settings)  # GATEWAY_METRICS_PORT, when set
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessions"] = create_session_factory(ctx["engine"])
    ctx["ams"] = AmsRuntime.create(settings, ctx["sessions"])
    ctx["events"] = WorkerDelivery(ctx["sessions"], settings, ctx["redis"])
    await ctx["events"].start()
    mappings()  # a broken mapping rule file stops the worker at start-up
    default_rules()  # so does a broken validation rule file
    tune_garbage_collector()
    await sweep(ctx)  # recover what died with earlier workers before taking new work


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["events"].stop()
    await ctx["ams"].close()
    await ctx["engine"].dispose()


async def process_job(ctx: dict[str, Any], job_id: str) -> str | None:
    status = await run_job(ctx["sessions"], job_id, ctx["settings"])
    await _sync_after_job(ctx, job_id)
    return status.value if status else None


async def _sync_after_job(ctx: dict[str, Any], job_id: str) -> None:
    """The job's own sync runs here at once: a second trip through the queue would add arq's
    poll delay to every record's way to the AMS. The other due syncs are queued. The lease still
    keeps one sync per tenant and entity at a time, and a sync this worker fails to finish is
    found again by the sweeper."""
    keys = await claim_due_syncs(ctx["sessions"], ctx["settings"])
    own = await job_sync_key(ctx["sessions"], job_id) if keys else None
    for key in keys:
        if key != own:
            await ctx["redis"].enqueue_job(SYNC_AMS_TASK, *key)
    if own is not None and own in keys:
        await run_sync(ctx["ams"], *key_parts(own))


async def deliver_events(ctx: dict[str, Any]) -> int:
    """Send the event deliveries that are due (see app.events.delivery)."""
    attempts: int = await ctx["events"].deliver()
    return attempts


async def sync_ams(ctx: dict[str, Any], client_id: str, livemode: bool, entity: str) -> int | None:
    """Write the tenant's changed records of `entity` to its AMS (see app.ams.service)."""
    run = await run_sync(ctx["ams"], *key_parts((client_id, livemode, entity)))
    return run.written if run else None


async def _enqueue_due_syncs(ctx: dict[str, Any]) -> int:
    keys = await claim_due_syncs(ctx["sessions"], ctx["settings"])
    for key in keys:
        await ctx["redis"].enqueue_job(SYNC_AMS_TASK, *key)
    return len(keys)


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-dispatch jobs whose message was lost or whose worker died (see app.jobs.sweeper), and
    AMS syncs that are due with nobody running them (see app.ams.due)."""
    job_ids = await due_job_ids(ctx["sessions"], ctx["settings"])
    for job_id in job_ids:
        await ctx["redis"].enqueue_job(PROCESS_JOB_TASK, job_id)
    return len(job_ids) + await _enqueue_due_syncs(ctx)


async def purge_retention(ctx: dict[str, Any]) -> dict[str, int]:
    """Remove what is past each tenant's retention (see app.retention.purge); hourly."""
    return await run_purge(ctx["sessions"], ctx["settings"])


async def reconcile_due(ctx: dict[str, Any]) -> dict[str, int]:
    """Audit the tenants whose daily AMS reconciliation is due (see app.reconciliation)."""
    return await run_due_audits(ctx["sessions"], ctx["settings"])


def worker_settings(
    settings: Settings | None = None, burst: bool = False, **overrides: Any
) -> dict[str, Any]:
    """Keyword arguments for arq.Worker. A burst worker sweeps once at start-up only: a periodic
    sweep would keep its queue from ever being empty."""
    settings = settings or get_settings()
    if not settings.redis_url:
        raise ValueError("GATEWAY_REDIS_URL must be set to run an arq worker")
    every = max(1, round(settings.sweeper_interval_seconds))
    poll = max(1, round(settings.event_delivery_poll_interval_seconds))
    crons = [
        cron(sweep, second=set(range(0, 60, every))),
        cron(deliver_events, second=set(range(0, 60, poll))),
        cron(purge_retention, minute=RETENTION_PURGE_MINUTE, second=0, timeout=3600),
        cron(reconcile_due, minute=RECONCILIATION_MINUTE, second=0, timeout=3600),
    ]
    return {
        "functions": [process_job, sync_ams, deliver_events],
        "cron_jobs": [] if burst else crons,
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


DRAIN_SECONDS = 25  # below the orchestrator's stop grace period (compose: 60 s)


def drain_on_signals(worker: Worker) -> None:
    """SIGTERM/SIGINT: take no new job, let AMS syncs stop at their next batch (their records
    stay due), wait up to DRAIN_SECONDS for running jobs, then stop. arq's own handler would
    cancel running jobs at once."""

    def drain(number: signal.Signals) -> None:
        runtime = worker.ctx.get("ams")
        if isinstance(runtime, AmsRuntime):
            runtime.stopping = True
        worker.handle_sig_wait_for_completion(number)

    worker._job_completion_wait = DRAIN_SECONDS
    for number in (signal.SIGINT, signal.SIGTERM):
        worker.loop.add_signal_handler(number, partial(drain, number))
