"""Per-request GraphQL context: the shared services, the caller, the request id."""

from typing import Any

from litestar import Request
from strawberry.litestar import BaseContext

from app.api.auth import optional_principal
from app.services import Services
from app.tenancy.models import Principal


class GatewayContext(BaseContext, kw_only=True):
    services: Services
    principal: Principal | None
    request_id: str


async def graphql_context(request: Request[Any, Any, Any]) -> GatewayContext:
    services: Services = request.app.state.services
    principal = await optional_principal(request)
    return GatewayContext(
        services=services,
        principal=principal,
        request_id=request.scope["state"].get("request_id", ""),
    )
