"""Auditing every REST call that changes something: who, which route, which ids, the status."""

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    Receive,
    Scope,
    Send,
)

from app.api.source_address import source_address
from app.audit.service import AuditEntry
from app.tenancy.models import Principal

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL_KEY = "audit_principal"  # set in the scope's state by the authenticating dependency


def remember_principal(scope: Scope, principal: Principal) -> None:
    scope.setdefault("state", {})[PRINCIPAL_KEY] = principal


class AuditWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] in READ_ONLY_METHODS:
            await self.app(scope, receive, send)
            return
        started: list[HTTPResponseStartEvent] = []

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(message)
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            _record(scope, started[0] if started else None)


def _record(scope: HTTPScope, started: HTTPResponseStartEvent | None) -> None:
    """The answer's start message is read only here, for a call with a principal: webhooks and
    calls refused before authentication have none, and their answers are not looked into."""
    state = scope.get("state", {})
    principal: Principal | None = state.get(PRINCIPAL_KEY)
    if principal is None:  # refused before authentication: recorded as an auth failure
        return
    status = started["status"] if started else 500
    headers = dict(started.get("headers", ())) if started else {}
    location = headers.get(b"location", b"").decode(errors="replace")
    entry = AuditEntry.by(
        principal,
        f"rest.{scope['method']} {scope.get('path_template', scope['path'])}",
        "ok" if status < 400 else f"http_{status}",
        target_ids=[location.rsplit("/", 1)[-1]] if location else [],
        source_ip=source_address(scope),
        request_id=state.get("request_id"),
    )
    scope["app"].state.services.audit.record(entry)
