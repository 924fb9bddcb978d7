"""Rate limits at the HTTP doors: the bearer key's bucket is taken right after authentication,
and every answer to an authenticated request carries the bucket's RateLimit-* headers (a refused
one also Retry-After), whatever produced the answer: the handler, an error, a GraphQL result."""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.ratelimit.buckets import Decision
from app.ratelimit.service import rate_limit_headers, rate_limited
from app.services import Services
from app.tenancy.models import Principal

STATE_KEY = "rate_limit"
PrincipalDependency = Callable[[Request[Any, Any, Any]], Awaitable[Principal]]


def remember(scope: Scope | dict[str, Any], decision: Decision | None) -> None:
    if decision is not None:
        cast(dict[str, Any], scope).setdefault("state", {})[STATE_KEY] = decision


async def limit_api_key(request: Request[Any, Any, Any], principal: Principal) -> None:
    """Take a token from the caller's key bucket; a 429 (`rate_limited`) when there is none."""
    services: Services = request.app.state.services
    decision = await services.rate_limiter.take_api(principal)
    remember(request.scope, decision)
    if decision is not None and not decision.allowed:
        raise rate_limited(decision)


def key_limited(dependency: PrincipalDependency) -> PrincipalDependency:
    """A `principal` dependency whose caller has also passed its key's rate limit."""

    async def limited(request: Request[Any, Any, Any]) -> Principal:
        principal = await dependency(request)
        await limit_api_key(request, principal)
        return principal

    return limited


async def limit_webhook(
    request: Request[Any, Any, Any], sender: str, client_id: str | None = None
) -> None:
    """For webhook receivers, before the body is read: take a token from the sender's bucket
    (its webhook connection's; separate from every API key's bucket), with the client's own
    webhook limits when it is known; a 429 (`rate_limited`) when there is none. The answer
    carries the RateLimit-* headers where RateLimitHeadersMiddleware is mounted (the REST
    router)."""
    services: Services = request.app.state.services
    decision = await services.rate_limiter.take_webhook(sender, client_id)
    remember(request.scope, decision)
    if decision is not None and not decision.allowed:
        raise rate_limited(decision, "this webhook connection")


class RateLimitHeadersMiddleware:
    """Adds the headers of the decision taken for this request, if one was."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get(STATE_KEY)
                if decision is not None:
                    message["headers"] = [*message.get("headers", []), *_encoded(decision)]
            await send(message)

        await self.app(scope, receive, send_with_limits)


def _encoded(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode(), value.encode())
        for name, value in rate_limit_headers(decision).items()
    ]
