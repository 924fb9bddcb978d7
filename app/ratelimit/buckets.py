"""Token buckets: `capacity` tokens, refilled at `per_second`, one taken per request. In-process
for one API process; in Redis (one atomic Lua script, Redis' own clock) when several share them."""

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from app.coalescing import Coalescer


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


# For each bucket in turn: refill, take one token if there is one, store, and let an idle bucket
# expire once it would be full anyway. Redis' clock, so processes on different machines agree on
# time. Takes of one key in the same call run one after another, as separate calls would.
_TAKE_EACH = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local answers = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local per_second = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
  local allowed = 0
  if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(capacity / per_second * 1000) + 1000)
  answers[2 * i - 1] = allowed
  answers[2 * i] = tostring(tokens)
end
return answers
"""
TAKES_PER_ROUND_TRIP = 500
Take = tuple[str, RateLimit]


class RedisBuckets:
    """Buckets every API process shares. Takes arriving together go in one script call."""

    def __init__(self, url: str, prefix: str = "gateway:ratelimit:") -> None:
        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_TAKE_EACH)
        self._prefix = prefix
        self._takes = Coalescer(self._take_all, TAKES_PER_ROUND_TRIP)

    async def take(self, key: str, limit: RateLimit) -> Decision:
        return await self._takes((key, limit))

    async def _take_all(self, takes: list[Take]) -> list[Decision]:
        keys = [self._prefix + key for key, _ in takes]
        args = [value for _, limit in takes for value in (limit.capacity, limit.per_second)]
        answers = await self._script(keys=keys, args=args)
        return [
            Decision.of(limit, bool(answers[2 * n]), float(answers[2 * n + 1]))
            for n, (_, limit) in enumerate(takes)
        ]

    async def close(self) -> None:
        await self._redis.aclose()
