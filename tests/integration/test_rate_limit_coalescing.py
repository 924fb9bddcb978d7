"""Shared (Redis) rate-limit buckets take the tokens of requests arriving together in one script
call, with the same answers separate calls would give: no bucket ever grants more than it has,
limits hold across API processes, and one key's takes never touch another key's bucket."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.ratelimit.buckets import RateLimit, RedisBuckets
from tests.conftest import REDIS_URL, require_service

PREFIX = "gateway:ratelimit:"
SLOW = 0.001  # one token every 1,000 s: no refill during a test


@pytest.fixture
async def redis_url() -> str:
    return require_service(REDIS_URL, "redis")


@pytest.fixture
async def buckets(redis_url: str) -> AsyncIterator[RedisBuckets]:
    shared = RedisBuckets(redis_url)
    yield shared
    await shared.close()


def unique_key() -> str:
    return f"test:{uuid.uuid4().hex}"


@pytest.mark.redis
async def test_concurrent_takes_of_one_bucket_never_over_grant(buckets: RedisBuckets) -> None:
    key, limit = unique_key(), RateLimit(capacity=10, per_second=SLOW)
    decisions = await asyncio.gather(*(buckets.take(key, limit) for _ in range(40)))
    granted = [d for d in decisions if d.allowed]
    assert len(granted) == 10
    assert sorted(d.remaining for d in granted) == list(range(10))
    refused = [d for d in decisions if not d.allowed]
    assert all(d.remaining == 0 and d.retry_after_seconds >= 1 for d in refused)


@pytest.mark.redis
async def test_limits_hold_across_two_limiter_instances(redis_url: str) -> None:
    first, second = RedisBuckets(redis_url), RedisBuckets(redis_url)
    key, limit = unique_key(), RateLimit(capacity=7, per_second=SLOW)
    try:
        decisions = await asyncio.gather(
            *((first if n % 2 else second).take(key, limit) for n in range(30))
        )
    finally:
        await first.close()
        await second.close()
    assert sum(d.allowed for d in decisions) == 7


@pytest.mark.redis
async def test_keys_taken_together_keep_their_own_buckets_and_limits(
    buckets: RedisBuckets,
) -> None:
    small, large = unique_key(), unique_key()
    takes = [buckets.take(small, RateLimit(capacity=2, per_second=SLOW)) for _ in range(5)]
    takes += [buckets.take(large, RateLimit(capacity=4, per_second=SLOW)) for _ in range(5)]
    decisions = await asyncio.gather(*takes)
    assert [d.allowed for d in decisions[:5]] == [True, True, False, False, False]
    assert [d.limit for d in decisions[:5]] == [2] * 5
    assert [d.allowed for d in decisions[5:]] == [True, True, True, True, False]
    assert [d.remaining for d in decisions[5:]] == [3, 2, 1, 0, 0]


@pytest.mark.redis
async def test_takes_arriving_together_share_one_script_call(
    buckets: RedisBuckets, redis_url: str
) -> None:
    keys = [unique_key() for _ in range(20)]
    limit = RateLimit(capacity=5, per_second=SLOW)
    decisions = await asyncio.gather(*(buckets.take(key, limit) for key in keys))
    assert all(d.allowed and d.remaining == 4 for d in decisions)
    redis = Redis.from_url(redis_url)
    try:
        # One call reads Redis' clock once, so every bucket it touched records the same time.
        times = {await redis.hget(PREFIX + key, "at") for key in keys}
    finally:
        await redis.aclose()
    assert len(times) == 1


@pytest.mark.redis
async def test_one_take_alone_is_answered_at_once(buckets: RedisBuckets) -> None:
    key, limit = unique_key(), RateLimit(capacity=1, per_second=SLOW)
    assert (await buckets.take(key, limit)).allowed
    refused = await buckets.take(key, limit)
    assert not refused.allowed and refused.retry_after_seconds >= 1
