"""The one background loop (app.periodic) and the buffered writers built on it (app.flushing)."""

import asyncio

from app.flushing import PeriodicFlush
from app.periodic import Periodic

TICK = 0.01
PATIENCE = 5.0  # an upper bound for waiting on a loaded machine, not a measurement


class Calls:
    def __init__(self, fail_first: int = 0) -> None:
        self.count = 0
        self._fail_first = fail_first
        self._changed = asyncio.Event()

    async def __call__(self) -> None:
        self.count += 1
        self._changed.set()
        if self.count <= self._fail_first:
            raise RuntimeError("a bad run")

    async def reach(self, count: int) -> None:
        async def wait() -> None:
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), PATIENCE)


async def test_the_action_runs_at_start_up_then_every_interval() -> None:
    calls = Calls()
    loop = Periodic("test", calls, TICK)
    await loop.start()
    await calls.reach(3)
    await loop.stop()
    stopped_at = calls.count
    await asyncio.sleep(TICK * 5)
    assert calls.count == stopped_at


async def test_wait_first_leaves_the_first_run_for_one_interval_later() -> None:
    calls = Calls()
    loop = Periodic("test", calls, 60.0, wait_first=True)
    await loop.start()
    await asyncio.sleep(TICK * 5)
    assert calls.count == 0
    await loop.stop()


async def test_a_failed_run_does_not_end_the_loop() -> None:
    calls = Calls(fail_first=2)
    loop = Periodic("test", calls, TICK)
    await loop.start()
    await calls.reach(4)
    await loop.stop()


async def test_starting_twice_runs_one_loop() -> None:
    calls = Calls()
    loop = Periodic("test", calls, 60.0)
    await loop.start()
    await loop.start()
    await calls.reach(1)
    await asyncio.sleep(TICK * 5)
    assert calls.count == 1
    await loop.stop()


class Buffer(PeriodicFlush):
    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.pending: list[str] = []
        self.written: list[str] = []
        self.upkeep = Calls()

    async def _write_pending(self) -> None:
        batch, self.pending = self.pending, []
        self.written += batch

    async def _after_flush(self) -> None:
        await self.upkeep()


async def test_buffered_work_is_written_by_the_timer_with_upkeep_after_each_flush() -> None:
    buffer = Buffer(TICK)
    await buffer.start()
    buffer.pending.append("row")
    await buffer.upkeep.reach(2)
    assert buffer.written == ["row"]
    await buffer.stop()


async def test_nothing_is_flushed_at_start_up_and_stop_writes_what_is_left() -> None:
    buffer = Buffer(60.0)
    buffer.pending.append("row")
    await buffer.start()
    await asyncio.sleep(TICK * 5)
    assert buffer.written == [] and buffer.upkeep.count == 0
    await buffer.stop()
    assert buffer.written == ["row"]
    assert buffer.upkeep.count == 0  # upkeep belongs to the timed flushes only
