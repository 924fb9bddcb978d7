"""The trace id: one id per partner call, carried from the request into its job, into the AMS
write log lines and out in the change events it causes.

A W3C `traceparent` header, when a partner sends a valid one, gives the trace id (its 32-hex
trace-id); otherwise the request id is the trace id. The job row keeps the request id, and a
request that sends only a `traceparent` gets that trace-id as its request id too, so the job
carries the trace without a column of its own. (A caller sending both an X-Request-ID and a
traceparent keeps its X-Request-ID on the job; its trace id is then seen on the request's lines.)

The id lives in structlog's context variables: every JSON log line of the request or the job
carries `trace_id`, and `current_trace_id()` reads it where events are recorded.
"""

import re
from collections.abc import Iterable

import structlog

TRACEPARENT = b"traceparent"
# version-traceid-parentid-flags; version ff and all-zero ids are invalid (W3C Trace Context §3.2)
_TRACEPARENT = re.compile(rb"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_PARENT = b"0" * 32, b"0" * 16


def trace_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The trace-id of a valid `traceparent` header, else None."""
    for name, value in headers:
        if name != TRACEPARENT:
            continue
        found = _TRACEPARENT.match(value.strip())
        if found is None:
            return None
        version, trace, parent = found.group(1), found.group(2), found.group(3)
        if version == b"ff" or trace == _ZERO_TRACE or parent == _ZERO_PARENT:
            return None
        if version == b"00" and found.group(5):  # version 00 has exactly four fields
            return None
        return trace.decode()
    return None


def current_trace_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("trace_id")
    return value if isinstance(value, str) else None
