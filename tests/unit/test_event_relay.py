"""The embedded delivery loop (app.events.relay.DeliveryLoop) stops whatever it is doing."""

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from app.events import outbox, relay
from app.settings import Settings

PATIENCE = 5.0  # an upper bound for waiting on a loaded machine, not a measurement


async def _nothing_due(*_args: Any, **_kwargs: Any) -> int:
    return 0


async def ends_in_time(stopping: Awaitable[None]) -> bool:
    """Whether it ends within PATIENCE (it is cancelled if not)."""
    task = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({task}, timeout=PATIENCE)
    task.cancel()
    return bool(done)


@pytest.fixture
async def delivery_loop(monkeypatch: pytest.MonkeyPatch) -> relay.DeliveryLoop:
    """A started loop that finds nothing due and otherwise polls only once a minute."""
    monkeypatch.setattr(relay, "deliver_due", _nothing_due)
    settings = Settings(event_delivery_poll_interval_seconds=60.0)
    loop = relay.DeliveryLoop(sessions=None, settings=settings)  # type: ignore[arg-type]
    await loop.start()
    for _ in range(5):  # into its wait for the next commit
        await asyncio.sleep(0)
    return loop


async def test_the_loop_stops_while_waiting(delivery_loop: relay.DeliveryLoop) -> None:
    assert await ends_in_time(delivery_loop.stop())


async def test_the_loop_stops_when_a_commit_wakes_it_just_before(
    delivery_loop: relay.DeliveryLoop,
) -> None:
    """A job finishing during shutdown commits an event: the wake-up reaches the loop's wait in
    the same turn the stop cancels it. The stop must not be mistaken for the wake-up (it was,
    with asyncio.wait_for on Python 3.11, and the test session hung in teardown)."""
    outbox._notify(None)  # what a commit that recorded events does
    await asyncio.sleep(0)  # the wake-up is delivered
    assert await ends_in_time(delivery_loop.stop())
