"""Whether a caller may make another request now. Each API key has its own bucket, shared by its
REST and GraphQL calls; webhook deliveries have separate buckets per sender (connection), so
a storm of platform events never starves the partner's API calls (nor the other way round).
Limits come from settings unless the client has its own (client_rate_limits)."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.coalescing import ExpiringCache
from app.db.engine import reading
from app.errors import FieldError, GatewayError
from app.ratelimit.buckets import (
    Buckets,
    Decision,
    InProcessBuckets,
    RateLimit,
    RedisBuckets,
)
from app.ratelimit.models import ClientRateLimit
from app.settings import Settings
from app.tenancy.models import Principal
from app.tenancy.service import get_client


@dataclass(frozen=True)
class Limits:
    api: RateLimit
    webhook: RateLimit


class RateLimitDoor(StrEnum):
    """Which bucket a limit is for: API calls (REST + GraphQL) or incoming webhook deliveries."""

    API = "api"
    WEBHOOK = "webhook"


class RateLimiter:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        buckets: Buckets,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._buckets = buckets
        self._defaults = Limits(
            RateLimit(settings.rate_limit_burst, settings.rate_limit_per_second),
            RateLimit(settings.webhook_rate_limit_burst, settings.webhook_rate_limit_per_second),
        )
        self._limits = ExpiringCache(self._read_limits, settings.rate_limit_override_ttl_seconds)
        self._blocked_sources: dict[str, float] = {}  # address -> monotonic time it may retry

    @classmethod
    def create(
        cls, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> "RateLimiter":
        """Shared through Redis when there is one, in this process otherwise."""
        buckets = RedisBuckets(settings.redis_url) if settings.redis_url else InProcessBuckets()
        return cls(settings, sessions, buckets)

    async def take_api(self, principal: Principal) -> Decision | None:
        """One request by this API key; None when rate limiting is off."""
        if not self._settings.rate_limit_enabled:
            return None
        limits = await self.limits_of(principal.client_id)
        return await self._buckets.take(f"api:{principal.key_id}", limits.api)

    async def take_webhook(self, sender: str, client_id: str | None = None) -> Decision | None:
        """One webhook delivery from this sender (e.g. the webhook connection it arrives on,
        which belongs to one client and mode); the client's own webhook limits apply when it is
        known. None when rate limiting is off."""
        if not self._settings.rate_limit_enabled:
            return None
        limits = await self.limits_of(client_id)
        return await self._buckets.take(f"webhook:{sender}", limits.webhook)

    def failed_authentication_block(self, source: str) -> int:
        """Seconds this address must still wait after using up its failed-authentication budget
        (0: it may try). Known per process: each process learns it from the shared bucket on the
        address's next failure, so good requests never pay a Redis round trip for this."""
        remaining = self._blocked_sources.get(source, 0.0) - time.monotonic()
        if remaining <= 0:
            self._blocked_sources.pop(source, None)
            return 0
        return max(1, round(remaining))

    async def count_failed_authentication(self, source: str) -> Decision | None:
        """One failed authentication from this address; a refusal blocks the address for the
        bucket's retry-after time. None when rate limiting is off."""
        if not self._settings.rate_limit_enabled:
            return None
        limit = RateLimit(self._settings.auth_failure_burst, self._settings.auth_failure_per_second)
        decision = await self._buckets.take(f"authfail:{source}", limit)
        if not decision.allowed:
            until = time.monotonic() + decision.retry_after_seconds
            self._blocked_sources[source] = until
        return decision

    async def limits_of(self, client_id: str | None) -> Limits:
        """The client's limits, cached for a short while (changes reach every process within
        rate_limit_override_ttl_seconds)."""
        if client_id is None:
            return self._defaults
        return await self._limits.get(client_id) or self._defaults

    async def _read_limits(self, client_id: str) -> Limits:
        async with reading(self._sessions) as session:
            row = await session.get(ClientRateLimit, client_id)
        return self.effective(row)

    @property
    def defaults(self) -> Limits:
        return self._defaults

    def effective(self, row: "ClientRateLimit | None") -> Limits:
        """A client's limits given its own row (None: the defaults)."""
        return self._defaults if row is None else self._with_overrides(row)

    def forget(self, client_id: str) -> None:
        """Drop this process's cached limits of a client (after changing them)."""
        self._limits.forget(client_id)

    def _with_overrides(self, row: ClientRateLimit) -> Limits:
        api, webhook = self._defaults.api, self._defaults.webhook
        return Limits(
            RateLimit(row.api_burst or api.capacity, row.api_per_second or api.per_second),
            RateLimit(
                row.webhook_burst or webhook.capacity,
                row.webhook_per_second or webhook.per_second,
            ),
        )

    async def close(self) -> None:
        await self._buckets.close()


async def set_client_limits(
    session: AsyncSession,
    client_id: str,
    api: RateLimit | None = None,
    webhook: RateLimit | None = None,
) -> ClientRateLimit:
    """Give a client its own limits; None keeps (or returns to) the default for that bucket."""
    for name, limit in (("api", api), ("webhook", webhook)):
        if limit is not None and (limit.capacity < 1 or limit.per_second <= 0):
            message = f"{name}: the burst must be at least 1 and the rate above 0."
            raise GatewayError(
                "invalid_rate_limit",
                message,
                errors=[FieldError("invalid_rate_limit", message, (name,))],
            )
    row = await session.get(ClientRateLimit, client_id)
    if row is None:
        row = ClientRateLimit(client_id=client_id)
        session.add(row)
    row.api_burst, row.api_per_second = (api.capacity, api.per_second) if api else (None, None)
    row.webhook_burst, row.webhook_per_second = (
        (webhook.capacity, webhook.per_second) if webhook else (None, None)
    )
    row.updated_at = datetime.now(UTC)
    await session.flush()
    return row


async def set_door_limit(
    session: AsyncSession, client_id: str, door: RateLimitDoor, limit: RateLimit | None
) -> ClientRateLimit | None:
    """Set (or, with None, clear) one bucket's limit of a client, keeping the other bucket's.
    The row goes once neither bucket has its own limit; returns what remains."""
    await get_client(session, client_id)  # an unknown client is not_found, not a foreign-key error
    if limit is not None:
        _check(limit)
    row = await session.get(ClientRateLimit, client_id)
    api = _own(row, RateLimitDoor.API)
    webhook = _own(row, RateLimitDoor.WEBHOOK)
    if door is RateLimitDoor.API:
        api = limit
    else:
        webhook = limit
    if api is None and webhook is None:
        if row is not None:
            await session.delete(row)
            await session.flush()
        return None
    return await set_client_limits(session, client_id, api, webhook)


def _check(limit: RateLimit) -> None:
    problems = []
    if limit.capacity < 1:
        problems.append(
            FieldError("invalid_rate_limit", "The burst must be at least 1.", ("burst",))
        )
    if not limit.per_second > 0:
        message = "The rate must be above 0 requests per second."
        problems.append(FieldError("invalid_rate_limit", message, ("requestsPerSecond",)))
    if problems:
        raise GatewayError("invalid_rate_limit", problems[0].message, errors=problems)


def _own(row: ClientRateLimit | None, door: RateLimitDoor) -> RateLimit | None:
    if row is None:
        return None
    if door is RateLimitDoor.API:
        burst, rate = row.api_burst, row.api_per_second
    else:
        burst, rate = row.webhook_burst, row.webhook_per_second
    return RateLimit(burst, rate) if burst is not None and rate is not None else None


async def client_limit_row(session: AsyncSession, client_id: str) -> ClientRateLimit | None:
    row: ClientRateLimit | None = await session.get(ClientRateLimit, client_id)
    return row


def rate_limited(decision: Decision, whose: str = "this API key") -> GatewayError:
    """The error a refused request gets (REST: 429; GraphQL: the code in `extensions`)."""
    return GatewayError(
        "rate_limited",
        f"Too many requests for {whose}: {decision.limit} at once, refilled over time. "
        f"Retry in {decision.retry_after_seconds} s.",
        kind="rate_limited",
    )


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """RateLimit-* on every answer; Retry-After when the request was refused."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after_seconds)
    return headers
