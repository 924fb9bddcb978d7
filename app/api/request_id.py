"""ASGI middleware: a request id and a trace id for every request, echoed back, bound into every
log line, and the request's metrics (app.observability.http).

The request id is the caller's X-Request-ID when valid, else the trace-id of a valid W3C
`traceparent`, else a new one. The trace id is the `traceparent`'s trace-id, else the request id
(see app.observability.tracing for how it reaches jobs, AMS writes and change events)."""

import re
import time
from typing import Any, cast

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.ids import new_id
from app.observability.http import observe_request
from app.observability.tracing import trace_id_from

HEADER = b"x-request-id"
_VALID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
log = structlog.get_logger("gateway.http")


def _incoming_id(scope: Scope, trace_id: str | None) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER and _VALID.match(value):
            return str(value.decode())
    return trace_id or new_id("req")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        traced = trace_id_from(scope.get("headers", ()))
        request_id = _incoming_id(scope, traced)
        trace_id = traced or request_id
        state = cast(dict[str, Any], scope).setdefault("state", {})
        state["request_id"], state["trace_id"] = request_id, trace_id
        started = time.perf_counter()
        id_header = (HEADER, request_id.encode())
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        # bind/reset rather than bound_contextvars(): the context manager is measurable per call.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            observe_request(scope, status, duration)
            log.info(
                "http.request",
                method=method,
                path=scope["path"],
                status=status,
                duration_ms=round(duration * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**bound)
