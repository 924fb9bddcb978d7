"""The REST API partners call: one router, every handler authenticated by the same bearer key as
GraphQL and documented in the OpenAPI document."""

from typing import Any

from litestar import Request, Router
from litestar.di import Provide

from app.api.auth import require_principal
from app.api.rest.ingest import INGEST_HANDLERS
from app.api.rest.jobs import JOB_HANDLERS
from app.api.rest.openapi import SECURITY
from app.services import Services


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def rest_router() -> Router:
    return Router(
        path="/",
        route_handlers=[*INGEST_HANDLERS, *JOB_HANDLERS],
        dependencies={
            "services": Provide(services_of, sync_to_thread=False),
            "principal": Provide(require_principal),
        },
        security=SECURITY,
        include_in_schema=True,
    )
