"""Many concurrent calls, one round trip: calls made while a batch is being written wait and go
together in the next batch (a group commit), so a busy gateway pays one transaction, pipeline or
script call for many requests, and an idle one still writes each call at once. Used by the
webhook delivery ledger and the shared rate-limit buckets. ExpiringCache does the same for reads:
requests that find a cached value expired together share one read.

A lone call pays for a task and a future (about 25 us of CPU); writing it in its caller instead
measured worse under load, where calls then often go alone instead of together."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")
Key = TypeVar("Key")
Value = TypeVar("Value")


@dataclass
class _Call(Generic[Item, Answer]):
    item: Item
    answer: "asyncio.Future[Answer]"


class Coalescer(Generic[Item, Answer]):
    """`write_all` takes a batch of items and returns one answer per item, in order; its error
    is every caller's error."""

    def __init__(
        self, write_all: Callable[[list[Item]], Awaitable[list[Answer]]], batch_limit: int
    ) -> None:
        self._write_all = write_all
        self._limit = batch_limit
        self._pending: list[_Call[Item, Answer]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Answer:
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append(_Call(item, answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return await answer

    async def _write(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._limit], self._pending[self._limit :]
                try:
                    answers = await self._write_all([call.item for call in batch])
                except Exception as error:
                    for call in batch:
                        if not call.answer.done():
                            call.answer.set_exception(error)
                    continue
                for call, answer in zip(batch, answers, strict=True):
                    if not call.answer.done():
                        call.answer.set_result(answer)
        finally:
            self._writer = None


class ExpiringCache(Generic[Key, Value]):
    """Values read on first use and read again once `ttl` seconds old. Callers that find a key
    missing or expired at the same time share one read, so an expiry under load costs one round
    trip instead of one per request in flight. Nothing is kept for a key the read finds nothing
    for (None), so unknown keys fill no memory."""

    def __init__(self, read: Callable[[Key], Awaitable[Value | None]], ttl: float) -> None:
        self._read = read
        self._ttl = ttl
        self._values: dict[Key, tuple[float, Value]] = {}  # key -> (expires at, value)
        self._reading: dict[Key, asyncio.Future[Value | None]] = {}

    async def get(self, key: Key) -> Value | None:
        kept = self._values.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self.refresh(key))
            self._reading[key] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        # One caller giving up (cancelled) does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    async def refresh(self, key: Key) -> Value | None:
        """Read the key now, whatever is kept or being read, and keep the answer."""
        value = await self._read(key)
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = (time.monotonic() + self._ttl, value)
        return value

    def forget(self, key: Key) -> None:
        self._values.pop(key, None)
