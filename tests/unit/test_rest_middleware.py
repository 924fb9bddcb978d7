"""Which middleware wraps which REST handlers: keyed calls are audited; webhook deliveries (no
principal, so nothing to record) skip the audit middleware; every answer carries the rate-limit
headers."""

from litestar import Litestar

from app.api.rest.audit import AuditWrites
from app.api.rest.routes import rest_router
from app.ratelimit.http import RateLimitHeadersMiddleware


def _middleware_by_route() -> dict[str, list[object]]:
    app = Litestar(route_handlers=[rest_router()], openapi_config=None)
    return {
        f"{method} {route.path}": handler.resolve_middleware()
        for route in app.routes
        for handler in route.route_handlers
        for method in handler.http_methods
        if method != "OPTIONS"  # Litestar's own answer to preflight requests
    }


def test_webhooks_skip_auditing_and_keyed_calls_keep_it() -> None:
    middleware = _middleware_by_route()
    webhook = middleware.pop("POST /webhooks/{source:str}/{connection_id:str}")
    assert webhook == [RateLimitHeadersMiddleware]
    assert middleware and all(
        AuditWrites in stack and RateLimitHeadersMiddleware in stack
        for stack in middleware.values()
    )
