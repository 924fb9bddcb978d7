"""Per-request GraphQL context: the shared services, the caller, the request id."""

from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException
from strawberry.litestar import BaseContext

from app.db.engine import reading
from app.errors import AuthenticationError
from app.services import Services
from app.tenancy.models import Principal
from app.tenancy.service import authenticate, record_key_use


class GatewayContext(BaseContext, kw_only=True):
    services: Services
    principal: Principal | None
    request_id: str


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Send the API key as 'Authorization: Bearer <key>'.")
    return token.strip()


async def resolve_principal(
    services: Services, request: Request[Any, Any, Any]
) -> Principal | None:
    """None when no key was sent; a presented key that is not valid fails the request (401)."""
    token = bearer_token(request)
    if token is None:
        return None
    async with reading(services.sessions) as session:
        principal, touch_due = await authenticate(session, token)
    if touch_due:
        async with services.sessions() as session, session.begin():
            await record_key_use(session, principal.key_id)
    return principal


async def graphql_context(request: Request[Any, Any, Any]) -> GatewayContext:
    services: Services = request.app.state.services
    try:
        principal = await resolve_principal(services, request)
    except AuthenticationError as error:
        raise NotAuthorizedException(detail=error.message, extra={"code": error.code}) from error
    return GatewayContext(
        services=services,
        principal=principal,
        request_id=request.scope["state"].get("request_id", ""),
    )
