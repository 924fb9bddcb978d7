"""Airtable's per-base rate limit: 5 requests per second; a request beyond it is refused with
429 and so is every further request to that base until the penalty (30 s) has passed.

Kept in this process: with several API processes each enforces the limit on its own share,
so scale-out needs the counters shared through Redis."""

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.sandbox.airtable.errors import rate_limited


@dataclass
class _Bucket:
    tokens: float
    updated_at: float
    blocked_until: float = 0.0


class BaseRateLimiter:
    """A token bucket per (client, base): `per_second` tokens a second, as many in a burst."""

    def __init__(
        self,
        per_second: float,
        penalty_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.penalty_seconds = penalty_seconds
        self.clock = clock
        self.buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, client_id: str, base_id: str) -> None:
        """Count one request against the base, or raise RATE_LIMIT_REACHED."""
        now = self.clock()
        bucket = self.buckets.setdefault((client_id, base_id), _Bucket(self.per_second, now))
        if now < bucket.blocked_until:
            raise rate_limited()
        bucket.tokens = min(
            self.per_second, bucket.tokens + (now - bucket.updated_at) * self.per_second
        )
        bucket.updated_at = now
        if bucket.tokens < 1:
            bucket.blocked_until = now + self.penalty_seconds
            raise rate_limited()
        bucket.tokens -= 1
