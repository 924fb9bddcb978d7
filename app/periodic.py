"""One loop for the work a process repeats on its own (the retention purge, resuming erasures):
run once at start-up, then every `interval` seconds until stopped. A failed run is logged by the
task's name only (its error may name personal data) and tried again next time."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("gateway.periodic")


class Periodic:
    def __init__(self, name: str, action: Callable[[], Awaitable[object]], interval: float):
        self.name = name
        self._action = action
        self._interval = interval
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
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval)
