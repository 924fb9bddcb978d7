"""Who is calling, for every HTTP door: the bearer API key resolved to a principal."""

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.rest.audit import remember_principal
from app.api.source_address import source_address
from app.audit.service import AuditEntry
from app.db.engine import reading
from app.db.models import Client
from app.errors import AuthenticationError, GatewayError, NotFoundError, PermissionDeniedError
from app.integrations.sandbox_tokens import is_sandbox_token, verify_sandbox_token
from app.services import Services
from app.tenancy.keys import display_prefix, parse_key
from app.tenancy.models import KeyMode, Principal, Tenant
from app.tenancy.policy import MISSING_KEY_MESSAGE, Requirement, authorize
from app.tenancy.service import authenticate, record_key_use
from app.usage.metrics import Metric

CLIENT_HEADER = "Gateway-Client"


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
    principal = services.key_cache.get(token)
    if principal is None:
        principal = await _authenticated(services, token)
    if CLIENT_HEADER.lower() in request.headers:
        async with reading(services.sessions) as session:
            principal = await _with_named_client(session, principal, request)
    return principal


async def _authenticated(services: Services, token: str) -> Principal:
    async with reading(services.sessions) as session:
        principal, touch_due = await authenticate(session, token)
    if touch_due:
        async with services.sessions() as session, session.begin():
            await record_key_use(session, principal.key_id)
    services.key_cache.put(token, principal)
    return principal


async def _with_named_client(
    session: AsyncSession, principal: Principal, request: Request[Any, Any, Any]
) -> Principal:
    """Operators name the client they act on per request; a client key may only name itself."""
    named = request.headers.get(CLIENT_HEADER)
    if named is None:
        return principal
    named = named.strip()
    if not principal.is_operator:
        if named != principal.client_id:
            raise PermissionDeniedError(
                "client_mismatch", f"A client key acts on its own client; drop {CLIENT_HEADER}."
            )
        return principal
    if await session.get(Client, named) is None:
        raise NotFoundError("client")
    return principal.acting_on(named)


async def optional_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """The caller, or None without a key; an invalid key answers 401 in the one error shape."""
    services: Services = request.app.state.services
    source = source_address(request.scope) or "unknown"
    blocked_for = services.rate_limiter.failed_authentication_block(source)
    if blocked_for and "authorization" in request.headers:
        raise _too_many_failures(blocked_for)
    try:
        principal = await resolve_principal(services, request)
    except AuthenticationError as error:
        services.audit.record(_failed_authentication(request, error))
        decision = await services.rate_limiter.count_failed_authentication(source)
        if decision is not None and not decision.allowed:
            raise _too_many_failures(decision.retry_after_seconds) from error
        raise NotAuthorizedException(detail=error.message, extra={"code": error.code}) from error
    if principal is not None and principal.client_id is not None:
        door = Metric.GRAPHQL_CALLS if request.url.path == "/graphql" else Metric.REST_CALLS
        services.meter.count(principal.tenant, door)
    return principal


def _too_many_failures(retry_after: int) -> TooManyRequestsException:
    return TooManyRequestsException(
        detail="Too many failed authentications from this address: no key is checked from it "
        f"for {retry_after} s.",
        extra={"code": "too_many_failed_authentications"},
        headers={"Retry-After": str(retry_after)},
    )


def _failed_authentication(request: Request[Any, Any, Any], error: GatewayError) -> AuditEntry:
    """Names the key by its public prefix when it has one; never the secret."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    parsed = parse_key(token)
    return AuditEntry(
        operation="auth.failed",
        result=error.code,
        actor_role="anonymous",
        target_ids=[display_prefix(parsed)] if parsed else [],
        source_ip=source_address(request.scope),
        request_id=request.scope.get("state", {}).get("request_id"),
    )


async def require_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller; no key at all answers 401 `missing_api_key` (REST has no anonymous calls)."""
    principal = await optional_principal(request)
    if principal is None:
        raise NotAuthorizedException(detail=MISSING_KEY_MESSAGE, extra={"code": "missing_api_key"})
    return principal


def principal_for(requirement: Requirement) -> Callable[..., Awaitable[Principal]]:
    """A REST dependency: the caller, checked against the policy (401 without a key, 403 without
    the scope or role)."""

    async def dependency(request: Request[Any, Any, Any]) -> Principal:
        principal = await require_principal(request)
        remember_principal(request.scope, principal)
        return authorize(principal, requirement)

    return dependency


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
