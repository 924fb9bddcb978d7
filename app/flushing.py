"""Work buffered in memory and written every few seconds by a background task (audit rows,
usage counts), so requests never wait on a database write for it."""

import asyncio
from abc import ABC, abstractmethod

from app.periodic import Periodic


class PeriodicFlush(ABC):
    def __init__(self, interval_seconds: float) -> None:
        self._flushing = asyncio.Lock()  # flush() returns only once earlier work is written
        # Nothing is buffered at start-up: the first flush comes one interval later.
        self._timer = Periodic(
            f"flush:{type(self).__name__}", self._timed_flush, interval_seconds, wait_first=True
        )

    async def start(self) -> None:
        await self._timer.start()

    async def stop(self) -> None:
        """Stop the timer, then write what is still buffered."""
        await self._timer.stop()
        await self.flush()

    async def flush(self) -> None:
        async with self._flushing:
            await self._write_pending()

    @abstractmethod
    async def _write_pending(self) -> None:
        """Write what is buffered; on failure keep it for the next flush and log."""

    async def _after_flush(self) -> None:  # noqa: B027 — an optional hook, not abstract
        """Periodic upkeep after each timed flush (none by default)."""

    async def _timed_flush(self) -> None:
        await self.flush()
        await self._after_flush()
