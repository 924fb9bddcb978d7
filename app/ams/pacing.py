"""Pacing requests to each Airtable base below its limit (5 requests/s), shared by every worker.

Airtable refuses a base for 30 seconds after one request too many, so requests are spaced, not
bursted: each caller reserves the next free slot of its base and sleeps until then. With Redis the
slots are reserved atomically by a Lua script (a token bucket of one token, GCRA), so all worker
processes share one schedule per base; in-process, aiolimiter keeps it. A 429 pushes the base's
next slot past the penalty for every caller.
"""

import asyncio
import time
from typing import Protocol

from aiolimiter import AsyncLimiter
from redis.asyncio import Redis

from app.settings import Settings

KEY_PREFIX = "gateway:airtable-pace:"

# KEYS[1]: the base's next free slot (µs, Redis clock). ARGV[1]: spacing (µs). Returns the wait.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local after = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], after, 'PX', math.ceil((after - now) / 1000) + 1000)
return slot - now
"""
# ARGV[1]: penalty (µs). The next slot moves to at least now + penalty.
_PENALISE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local after = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], after, 'PX', math.ceil((after - now) / 1000) + 1000)
return after - now
"""


class Pacer(Protocol):
    async def acquire(self, base_id: str) -> None:
        """Wait for this base's next request slot."""

    async def penalise(self, base_id: str, seconds: float) -> None:
        """Airtable said 429: nobody sends to this base for `seconds`."""

    async def close(self) -> None: ...


class LocalPacer:
    """One process (the embedded shape): aiolimiter per base, plus the penalty window."""

    def __init__(self, requests_per_second: float) -> None:
        self._interval = 1 / requests_per_second
        self._limiters: dict[str, AsyncLimiter] = {}
        self._blocked_until: dict[str, float] = {}

    async def acquire(self, base_id: str) -> None:
        blocked = self._blocked_until.get(base_id, 0.0) - time.monotonic()
        if blocked > 0:
            await asyncio.sleep(blocked)
        limiter = self._limiters.setdefault(base_id, AsyncLimiter(1, self._interval))
        await limiter.acquire()

    async def penalise(self, base_id: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._blocked_until[base_id] = max(self._blocked_until.get(base_id, 0.0), until)

    async def close(self) -> None:
        return None


class RedisPacer:
    """Every worker process against one schedule per base, kept in Redis."""

    def __init__(self, redis_url: str, requests_per_second: float) -> None:
        self._redis = Redis.from_url(redis_url)
        self._interval_us = round(1_000_000 / requests_per_second)
        self._reserve = self._redis.register_script(_RESERVE)
        self._penalise = self._redis.register_script(_PENALISE)

    async def acquire(self, base_id: str) -> None:
        wait_us = int(await self._reserve(keys=[KEY_PREFIX + base_id], args=[self._interval_us]))
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)

    async def penalise(self, base_id: str, seconds: float) -> None:
        await self._penalise(keys=[KEY_PREFIX + base_id], args=[round(seconds * 1_000_000)])

    async def close(self) -> None:
        await self._redis.aclose()


def make_pacer(settings: Settings) -> Pacer:
    rate = settings.ams_airtable_requests_per_second
    if settings.redis_url:
        return RedisPacer(settings.redis_url, rate)
    return LocalPacer(rate)
