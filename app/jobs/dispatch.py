"""Handing job ids to workers: arq on Redis in scale-out, an in-process pool otherwise.

Only ids travel; the database holds everything else, so a lost message costs a sweeper cycle,
never data.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import structlog
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams.due import SyncKey, claim_due_syncs, key_parts
from app.ams.service import AmsRuntime, run_sync
from app.jobs.processing import run_job
from app.jobs.sweeper import due_job_ids
from app.settings import Settings

log = structlog.get_logger("gateway.dispatch")

PROCESS_JOB_TASK = "process_job"
SYNC_AMS_TASK = "sync_ams"
SYNC_STOP_GRACE_SECONDS = 10.0  # running syncs end at their next batch; cancelling one mid-commit
# could leave SQLite's write lock behind


class Dispatcher(Protocol):
    async def start(self) -> None: ...
    async def dispatch(self, job_ids: Sequence[str]) -> None: ...
    async def dispatch_syncs(self, keys: Sequence[SyncKey]) -> None: ...
    async def stop(self) -> None: ...


class InProcessDispatcher:
    """Runs jobs on the API's own event loop, plus the sweeper (embedded default)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._syncs: asyncio.Queue[SyncKey | None] = asyncio.Queue()
        self._ams: AmsRuntime | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sync_tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._ams = AmsRuntime.create(self._settings, self._sessions)
        workers = [self._work() for _ in range(self._settings.inprocess_workers)]
        self._tasks = [asyncio.create_task(coroutine) for coroutine in [*workers, self._sweep()]]
        self._sync_tasks = [
            asyncio.create_task(self._sync_work()) for _ in range(self._settings.ams_sync_workers)
        ]

    async def dispatch(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self._queue.put_nowait(job_id)

    async def dispatch_syncs(self, keys: Sequence[SyncKey]) -> None:
        for key in keys:
            self._syncs.put_nowait(key)

    async def stop(self) -> None:
        if self._ams is not None:
            self._ams.stopping = True
        for _ in self._sync_tasks:
            self._syncs.put_nowait(None)  # idle sync workers end; busy ones after their sync
        if self._sync_tasks:
            await asyncio.wait(self._sync_tasks, timeout=SYNC_STOP_GRACE_SECONDS)
        for task in [*self._tasks, *self._sync_tasks]:
            task.cancel()
        for task in [*self._tasks, *self._sync_tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._sync_tasks = [], []
        if self._ams is not None:
            await self._ams.close()
            self._ams = None

    async def join(self) -> None:
        """Wait until every dispatched job has been run (tests and benchmarks)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            try:
                await run_job(self._sessions, job_id, self._settings)
                await self.dispatch_syncs(await claim_due_syncs(self._sessions, self._settings))
            except Exception:  # run_job records job failures; this is a last resort
                log.exception("dispatch.job_crashed", job_id=job_id)
            finally:
                self._queue.task_done()

    async def _sync_work(self) -> None:
        while (key := await self._syncs.get()) is not None:
            try:
                assert self._ams is not None
                if not self._ams.stopping:
                    await run_sync(self._ams, *key_parts(key))
            except Exception:  # run_sync records sync failures; this is a last resort
                log.exception("dispatch.sync_crashed", key=key)
            finally:
                self._syncs.task_done()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sweeper_interval_seconds)
            try:
                await self.dispatch(await due_job_ids(self._sessions, self._settings))
                await self.dispatch_syncs(await claim_due_syncs(self._sessions, self._settings))
            except Exception:
                log.exception("sweeper.failed")


class ArqDispatcher:
    """Enqueues job ids on Redis for `gateway worker` processes."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ArqRedis | None = None

    async def start(self) -> None:
        assert self._settings.redis_url is not None
        self._pool = await create_pool(
            RedisSettings.from_dsn(self._settings.redis_url),
            default_queue_name=self._settings.arq_queue_name,
        )

    async def dispatch(self, job_ids: Sequence[str]) -> None:
        assert self._pool is not None, "dispatcher not started"
        for job_id in job_ids:
            await self._pool.enqueue_job(PROCESS_JOB_TASK, job_id)

    async def dispatch_syncs(self, keys: Sequence[SyncKey]) -> None:
        assert self._pool is not None, "dispatcher not started"
        for key in keys:
            await self._pool.enqueue_job(SYNC_AMS_TASK, *key)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def make_dispatcher(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Dispatcher:
    if settings.redis_url:
        return ArqDispatcher(settings)
    return InProcessDispatcher(sessions, settings)
