"""Token buckets: `capacity` tokens, refilled at `per_second`, one taken per request. In-process
for one API process; in Redis (one atomic Lua script, Redis' own clock) when several share them."""

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class RateLimit:
    capacity: int  # the burst: requests allowed at once after a quiet spell
    per_second: float  # the sustained rate: tokens added back per second


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # until the next request is allowed (0 when this one was)

    @classmethod
    def of(cls, limit: RateLimit, allowed: bool, tokens: float) -> "Decision":
        missing = limit.capacity - tokens
        return cls(
            allowed=allowed,
            limit=limit.capacity,
            remaining=max(0, math.floor(tokens)),
            reset_seconds=max(0, math.ceil(missing / limit.per_second)),
            retry_after_seconds=0
            if allowed
            else max(1, math.ceil((1 - tokens) / limit.per_second)),
        )


class Buckets(Protocol):
    async def take(self, key: str, limit: RateLimit) -> Decision: ...
    async def close(self) -> None: ...


class InProcessBuckets:
    """One process's buckets (the embedded shape)."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    async def take(self, key: str, limit: RateLimit) -> Decision:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(limit.capacity), now))
        tokens = min(float(limit.capacity), tokens + (now - at) * limit.per_second)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[key] = (tokens, now)
        return Decision.of(limit, allowed, tokens)

    async def close(self) -> None:
        self._buckets.clear()


# Refill, take one token if there is one, store, and let an idle bucket expire once it would be
# full anyway. Redis' clock, so processes on different machines agree on time.
_TAKE = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_second * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    """Buckets every API process shares."""

    def __init__(self, url: str, prefix: str = "gateway:ratelimit:") -> None:
        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_TAKE)
        self._prefix = prefix

    async def take(self, key: str, limit: RateLimit) -> Decision:
        allowed, tokens = await self._script(
            keys=[self._prefix + key], args=[limit.capacity, limit.per_second]
        )
        return Decision.of(limit, bool(allowed), float(tokens))

    async def close(self) -> None:
        await self._redis.aclose()
