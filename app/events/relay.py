"""What moves deliveries out of a process, beside the work it is there for.

Embedded: a background loop on the API's event loop sends due deliveries, woken by each commit
that recorded events and otherwise polling (retries fall due with no commit to wake it).
Scale-out: the API only enqueues an arq task when events are committed; `gateway worker`
processes send (on that task, and on a cron that picks up retries). Either way a slow or hanging
subscriber costs one delivery slot for at most the timeout, never an ingest job's time.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
import structlog
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events import outbox
from app.events.delivery import deliver_due, http_client
from app.settings import Settings

log = structlog.get_logger("gateway.events")

DELIVER_EVENTS_TASK = "deliver_events"


class EventRelay(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class DeliveryLoop:
    """Sends due deliveries from this process (embedded default)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._listener: Callable[[], None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._http = http_client()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        self._listener = wake
        outbox.subscribe(wake)
        self._task = asyncio.create_task(self._run(self._http))

    async def stop(self) -> None:
        if self._listener is not None:
            outbox.unsubscribe(self._listener)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self, http: httpx.AsyncClient) -> None:
        while True:
            self._wake.clear()
            try:
                await deliver_due(self._sessions, http, self._settings, self._wake)
            except Exception:
                log.exception("webhook.delivery_pass_failed")
            # Not asyncio.wait_for: on Python 3.11 it swallows a stop() that comes just as a
            # commit wakes it, and stop() then waits for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.event_delivery_poll_interval_seconds):
                    await self._wake.wait()


class EnqueueOnCommit:
    """Enqueues one delivery task per burst of commits that recorded events (scale-out)."""

    def __init__(self, enqueue: Callable[[], Awaitable[Any]]) -> None:
        self._enqueue = enqueue
        self._loop = asyncio.get_running_loop()  # the loop the Redis pool belongs to
        self._pending: asyncio.Task[None] | None = None
        self._again = False

    def __call__(self) -> None:
        self._loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        self._again = True
        if self._pending is None or self._pending.done():
            self._pending = self._loop.create_task(self._send())

    async def _send(self) -> None:
        # Commits during an enqueue may come after the task it sends has looked: send another.
        while self._again:
            self._again = False
            try:
                await self._enqueue()
            except Exception:  # the workers' cron picks the deliveries up a moment later
                log.exception("webhook.enqueue_failed")

    async def drain(self) -> None:
        if self._pending is not None:
            await self._pending


class ArqEventRelay:
    """The API side of scale-out: commits with events enqueue a task for the workers."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ArqRedis | None = None
        self._listener: EnqueueOnCommit | None = None

    async def start(self) -> None:
        assert self._settings.redis_url is not None
        pool = await create_pool(
            RedisSettings.from_dsn(self._settings.redis_url),
            default_queue_name=self._settings.arq_queue_name,
        )
        self._pool = pool
        self._listener = EnqueueOnCommit(lambda: pool.enqueue_job(DELIVER_EVENTS_TASK))
        outbox.subscribe(self._listener)

    async def stop(self) -> None:
        if self._listener is not None:
            outbox.unsubscribe(self._listener)
            await self._listener.drain()
            self._listener = None
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def make_relay(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> EventRelay:
    if settings.redis_url:
        return ArqEventRelay(settings)
    return DeliveryLoop(sessions, settings)


class WorkerDelivery:
    """Delivery inside a `gateway worker`: sends on the deliver task, and enqueues that task
    after its own commits that recorded events (jobs finishing there emit job.completed)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, redis: ArqRedis
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._http = http_client()
        self._listener = EnqueueOnCommit(lambda: redis.enqueue_job(DELIVER_EVENTS_TASK))

    async def start(self) -> None:
        outbox.subscribe(self._listener)

    async def deliver(self) -> int:
        return await deliver_due(self._sessions, self._http, self._settings)

    async def stop(self) -> None:
        outbox.unsubscribe(self._listener)
        await self._listener.drain()
        await self._http.aclose()
