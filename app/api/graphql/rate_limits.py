"""Per-client rate limits: operators give a client its own limit per bucket (API calls, webhook
deliveries) or return it to the defaults; the client sees its current limits in `viewer`."""

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.types import UserError
from app.db.engine import reading
from app.errors import GatewayError
from app.ratelimit import service as ratelimits
from app.ratelimit.buckets import RateLimit
from app.ratelimit.models import ClientRateLimit
from app.ratelimit.service import Limits, RateLimitDoor, RateLimiter
from app.tenancy.models import Scope
from app.tenancy.policy import Requirement

SETTING_LIMITS = [allowed(Requirement(Scope.ADMIN, operators_only=True))]
strawberry.enum(RateLimitDoor, description="A token bucket: API calls or webhook deliveries.")


@strawberry.type(description="One token bucket's limit.")
class RateLimitValue:
    door: RateLimitDoor
    burst: int = strawberry.field(description="Requests allowed at once after a quiet spell.")
    requests_per_second: float = strawberry.field(description="The sustained rate.")
    custom: bool = strawberry.field(
        description="True when set for this client; false: the gateway's default."
    )


@strawberry.type(description="A client's current rate limits, one per bucket.")
class RateLimits:
    api: RateLimitValue = strawberry.field(description="API calls (REST and GraphQL), per key.")
    webhook: RateLimitValue = strawberry.field(
        description="Incoming webhook deliveries, per webhook connection."
    )


@strawberry.type
class RateLimitPayload:
    client_id: strawberry.ID | None
    rate_limits: RateLimits | None
    errors: list[UserError]


@strawberry.input
class SetRateLimitInput:
    client: strawberry.ID
    requests_per_second: float = strawberry.field(description="Above 0.")
    burst: int = strawberry.field(description="At least 1.")
    door: RateLimitDoor = strawberry.field(
        default=RateLimitDoor.API, description="Which bucket; API calls by default."
    )


@strawberry.input
class ClearRateLimitInput:
    client: strawberry.ID
    door: RateLimitDoor | None = strawberry.field(
        default=None, description="Which bucket returns to the default; null: both."
    )


def rate_limits_of(limiter: RateLimiter, row: ClientRateLimit | None) -> RateLimits:
    limits: Limits = limiter.effective(row)
    own_api = row is not None and row.api_burst is not None
    own_webhook = row is not None and row.webhook_burst is not None
    return RateLimits(
        api=_value(RateLimitDoor.API, limits.api, own_api),
        webhook=_value(RateLimitDoor.WEBHOOK, limits.webhook, own_webhook),
    )


def _value(door: RateLimitDoor, limit: RateLimit, custom: bool) -> RateLimitValue:
    return RateLimitValue(
        door=door, burst=limit.capacity, requests_per_second=limit.per_second, custom=custom
    )


async def viewer_rate_limits(info: Info, client_id: str) -> RateLimits:
    services = info.context.services
    async with reading(services.sessions) as session:
        row = await ratelimits.client_limit_row(session, client_id)
    return rate_limits_of(services.rate_limiter, row)


async def _change(
    info: Info, client_id: str, doors: list[RateLimitDoor], limit: RateLimit | None
) -> RateLimitPayload:
    services = info.context.services
    try:
        async with services.sessions() as session, session.begin():
            row = None
            for door in doors:
                row = await ratelimits.set_door_limit(session, client_id, door, limit)
    except GatewayError as error:
        return RateLimitPayload(client_id=None, rate_limits=None, errors=UserError.all_from(error))
    services.rate_limiter.forget(client_id)  # this process at once; others within the cache TTL
    return RateLimitPayload(
        client_id=strawberry.ID(client_id),
        rate_limits=rate_limits_of(services.rate_limiter, row),
        errors=[],
    )


@strawberry.type
class RateLimitsMutation:
    @strawberry.mutation(
        permission_classes=SETTING_LIMITS,
        description="Operators: give a client its own limit for one bucket (API calls by "
        "default). Every process applies it within GATEWAY_RATE_LIMIT_OVERRIDE_TTL_SECONDS.",
    )
    async def set_rate_limit(self, info: Info, input: SetRateLimitInput) -> RateLimitPayload:
        limit = RateLimit(input.burst, input.requests_per_second)
        return await _change(info, str(input.client), [input.door], limit)

    @strawberry.mutation(
        permission_classes=SETTING_LIMITS,
        description="Operators: return a client's bucket (or both) to the gateway's defaults.",
    )
    async def clear_rate_limit(self, info: Info, input: ClearRateLimitInput) -> RateLimitPayload:
        doors = [input.door] if input.door is not None else list(RateLimitDoor)
        return await _change(info, str(input.client), doors, None)
