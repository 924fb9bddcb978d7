"""Who is calling, for every HTTP door: the bearer API key resolved to a principal."""

from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException

from app.db.engine import reading
from app.db.models import Client
from app.errors import AuthenticationError
from app.integrations.sandbox_tokens import is_sandbox_token, verify_sandbox_token
from app.services import Services
from app.tenancy.models import KeyMode, Principal, Tenant
from app.tenancy.service import authenticate, record_key_use

MISSING_KEY_MESSAGE = (
    "Authentication required: send 'Authorization: Bearer <key>' with a gateway API key."
)


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


async def optional_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """The caller, or None without a key; an invalid key answers 401 in the one error shape."""
    try:
        return await resolve_principal(request.app.state.services, request)
    except AuthenticationError as error:
        raise NotAuthorizedException(detail=error.message, extra={"code": error.code}) from error


async def require_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller; no key at all answers 401 `missing_api_key` (REST has no anonymous calls)."""
    principal = await optional_principal(request)
    if principal is None:
        raise NotAuthorizedException(detail=MISSING_KEY_MESSAGE, extra={"code": "missing_api_key"})
    return principal


async def sandbox_tenant(services: Services, request: Request[Any, Any, Any]) -> Tenant:
    """The client behind a test key, or behind a gateway-issued sandbox token (the gateway's own
    AMS writer, see app.integrations.sandbox_tokens), for the sandbox emulators. No key, an invalid
    key or token, or a live key (live keys reach the real Airtable and Drive) raise
    AuthenticationError."""
    token = bearer_token(request)
    if token is not None and is_sandbox_token(token):
        client_id = verify_sandbox_token(services.settings.secret_key, token)
        if client_id is not None:
            async with reading(services.sessions) as session:
                if await session.get(Client, client_id) is not None:
                    return Tenant(client_id=client_id, livemode=False)
        raise AuthenticationError("The sandbox token is not valid.")
    principal = await resolve_principal(services, request)
    if principal is None:
        raise AuthenticationError(
            "Send the client's test API key as 'Authorization: Bearer <key>'."
        )
    if principal.mode is not KeyMode.TEST:
        raise AuthenticationError("The sandbox takes test keys only; live keys reach the real AMS.")
    return principal.tenant
