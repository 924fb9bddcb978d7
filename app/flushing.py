"""Work buffered in memory and written every few seconds by a background task (audit rows,
usage counts), so requests never wait on a database write for it."""

import asyncio
import contextlib
from abc import ABC, abstractmethod


class PeriodicFlush(ABC):
    def __init__(self, interval_seconds: float) -> None:
        self._interval = interval_seconds
        self._flushing = asyncio.Lock()  # flush() returns only once earlier work is written
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        async with self._flushing:
            await self._write_pending()

    @abstractmethod
    async def _write_pending(self) -> None:
        """Write what is buffered; on failure keep it for the next flush and log."""

    async def _after_flush(self) -> None:  # noqa: B027 — an optional hook, not abstract
        """Periodic upkeep after each timed flush (none by default)."""

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
            await self._after_flush()
