"""The cache webhook connections and client rate limits are read through: requests that find a
value missing or expired at the same moment share one read, and what is kept expires."""

import asyncio

from app.coalescing import ExpiringCache


class Reads:
    def __init__(self, answer: str | None = "secret") -> None:
        self.answer = answer
        self.keys: list[str] = []

    async def __call__(self, key: str) -> str | None:
        self.keys.append(key)
        await asyncio.sleep(0.01)  # a round trip: callers arriving meanwhile must share it
        return self.answer


async def test_simultaneous_misses_share_one_read():
    reads = Reads()
    cache = ExpiringCache(reads, ttl=60)
    answers = await asyncio.gather(*(cache.get("whc_1") for _ in range(16)))
    assert answers == ["secret"] * 16
    assert reads.keys == ["whc_1"]
    assert await cache.get("whc_1") == "secret"
    assert reads.keys == ["whc_1"]  # kept


async def test_an_expired_value_is_read_again():
    reads = Reads()
    cache = ExpiringCache(reads, ttl=0)
    await cache.get("whc_1")
    reads.answer = "rotated"
    assert await cache.get("whc_1") == "rotated"
    assert reads.keys == ["whc_1", "whc_1"]


async def test_nothing_is_kept_for_a_key_that_reads_as_none():
    reads = Reads(answer=None)
    cache = ExpiringCache(reads, ttl=60)
    assert await cache.get("whc_unknown") is None
    reads.answer = "created since"
    assert await cache.get("whc_unknown") == "created since"


async def test_refresh_reads_now_and_forget_drops_the_value():
    reads = Reads()
    cache = ExpiringCache(reads, ttl=60)
    await cache.get("whc_1")
    reads.answer = "rotated"
    assert await cache.refresh("whc_1") == "rotated"
    assert await cache.get("whc_1") == "rotated"
    cache.forget("whc_1")
    reads.answer = "again"
    assert await cache.get("whc_1") == "again"
    assert len(reads.keys) == 3


async def test_a_cancelled_caller_does_not_cancel_the_shared_read():
    reads = Reads()
    cache = ExpiringCache(reads, ttl=60)
    impatient = asyncio.ensure_future(cache.get("whc_1"))
    patient = asyncio.ensure_future(cache.get("whc_1"))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == "secret"
    assert reads.keys == ["whc_1"]
