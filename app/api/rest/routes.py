"""The REST API partners call: one router, every handler authenticated by the same bearer key as
GraphQL and documented in the OpenAPI document."""

from collections.abc import Sequence
from typing import Any

from litestar import Request, Router
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from app.api.auth import principal_for
from app.api.rest.archival import ARCHIVE_HANDLERS
from app.api.rest.audit import AuditWrites
from app.api.rest.ingest import INGEST_HANDLERS
from app.api.rest.jobs import JOB_HANDLERS
from app.api.rest.openapi import SECURITY
from app.api.rest.webhooks import WEBHOOK_HANDLERS
from app.ratelimit.http import RateLimitHeadersMiddleware, key_limited
from app.services import Services
from app.tenancy import policy
from app.tenancy.policy import Requirement


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def _guarded(requirement: Requirement, handlers: Sequence[ControllerRouterHandler]) -> Router:
    """Handlers whose `principal` has been checked against the policy."""
    return Router(
        path="/",
        route_handlers=list(handlers),
        dependencies={"principal": Provide(key_limited(principal_for(requirement)))},
    )


def rest_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            _guarded(policy.INGEST, [*INGEST_HANDLERS, *ARCHIVE_HANDLERS]),
            _guarded(policy.READ, JOB_HANDLERS),
            *WEBHOOK_HANDLERS,  # signed by the platform, not keyed: see app.api.rest.webhooks
        ],
        dependencies={"services": Provide(services_of, sync_to_thread=False)},
        middleware=[AuditWrites, RateLimitHeadersMiddleware],
        security=SECURITY,
        include_in_schema=True,
    )
