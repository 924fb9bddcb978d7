"""Injected faults of the Airtable emulator, for fault-injection tests: bursts of 429s, 503s and
timeouts, answered instead of the real work of a request to a base.

A schedule is a list of bursts played in order: each lets `after` requests through, then answers
the next `count` with its fault. The schedule from settings (GATEWAY_SANDBOX_AIRTABLE_FAULTS)
applies to every client's requests; one armed through /sandbox/airtable/_faults (when
GATEWAY_SANDBOX_AIRTABLE_FAULT_ADMIN is on) applies to the arming client's requests only, before
the settings' one. Only the sandbox has this: live keys never reach the emulator.

A "timeout" holds the request for `timeout_seconds` (longer than the caller's read timeout) and
then answers 503 without doing the work, as a request lost on the way would.
"""

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from app.sandbox.airtable.errors import AirtableError, rate_limited
from app.settings import AirtableFault

ALL_CLIENTS = ""


@dataclass
class _Step:
    kind: str | None  # None: let the request through
    remaining: int


def retriable_error() -> AirtableError:
    return AirtableError(503, "RETRIABLE_ERROR", "The server could not process the request.")


class FaultInjector:
    """Fault schedules per client (and one for every client). Shared by the requests of one
    process; a schedule is consumed as requests arrive."""

    def __init__(self, default: Sequence[AirtableFault], timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._schedules: dict[str, deque[_Step]] = {}
        self.injected: dict[str, int] = {}  # kind → faults answered so far
        if default:
            self.arm(ALL_CLIENTS, default)

    def __deepcopy__(self, memo: dict[int, object]) -> "FaultInjector":
        return self  # Litestar copies each handler's `opt`: every handler must share this one

    def arm(self, client_id: str, bursts: Sequence[AirtableFault]) -> None:
        steps: deque[_Step] = deque()
        for burst in bursts:
            if burst.after:
                steps.append(_Step(None, burst.after))
            steps.append(_Step(burst.kind, burst.count))
        with self._lock:
            self._schedules[client_id] = steps

    def clear(self, client_id: str) -> None:
        with self._lock:
            self._schedules.pop(client_id, None)

    def pending(self, client_id: str) -> int:
        """Faults still to be answered to this client (its own schedule)."""
        with self._lock:
            steps = self._schedules.get(client_id, deque())
            return sum(step.remaining for step in steps if step.kind is not None)

    def _next(self, client_id: str) -> str | None:
        with self._lock:
            for key in (client_id, ALL_CLIENTS):
                steps = self._schedules.get(key)
                if not steps:
                    continue
                step = steps[0]
                step.remaining -= 1
                if step.remaining <= 0:
                    steps.popleft()
                if step.kind is not None:
                    self.injected[step.kind] = self.injected.get(step.kind, 0) + 1
                return step.kind
        return None

    async def strike(self, client_id: str) -> None:
        """Answer this request with the scheduled fault, if one is due."""
        kind = self._next(client_id)
        if kind == "429":
            raise rate_limited()
        if kind == "503":
            raise retriable_error()
        if kind == "timeout":
            await asyncio.sleep(self.timeout_seconds)
            raise retriable_error()
