"""One loop for the work a process repeats on its own (the retention purge, resuming erasures,
reconciliation, flushing buffered audit rows and usage counts): run once at start-up (or, with
`wait_first`, one interval after it), then every `interval` seconds until stopped. A failed run is
logged by the task's name only (its error may name personal data) and tried again next time."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("gateway.periodic")


class Periodic:
    def __init__(
        self,
        name: str,
        action: Callable[[], Awaitable[object]],
        interval: float,
        *,
        wait_first: bool = False,
    ):
        self.name = name
        self._action = action
        self._interval = interval
        self._wait_first = wait_first
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"periodic:{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> None:
        try:
            await self._action()
        except Exception as error:  # the loop must outlive one bad run
            log.warning("periodic.run_failed", task=self.name, error=type(error).__name__)

    async def _run(self) -> None:
        if self._wait_first:
            await asyncio.sleep(self._interval)
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval)
