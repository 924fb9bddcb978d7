"""Injected faults of the Airtable emulator, for fault-injection tests: bursts of 429s, 503s and
timeouts, answered instead of the real work of a request to a base.

A schedule is a list of bursts played in order: each lets `after` requests through, then answers
the next `count` with its fault. The schedule from settings (GATEWAY_SANDBOX_AIRTABLE_FAULTS)
applies to every client's requests; one armed through /sandbox/airtable/_faults (when
GATEWAY_SANDBOX_AIRTABLE_FAULT_ADMIN is on) applies to the arming client's requests only, before
the settings' one. Only the sandbox has this: live keys never reach the emulator.

A burst `matching` a text counts only the requests whose body holds it (e.g. one record's External
ID), so one record can keep failing while the requests around it go through.

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
        self._targeted: dict[str, list[tuple[bytes, deque[_Step]]]] = {}  # text → its bursts
        self.injected: dict[str, int] = {}  # kind → faults answered so far
        if default:
            self.arm(ALL_CLIENTS, default)

    def __deepcopy__(self, memo: dict[int, object]) -> "FaultInjector":
        return self  # Litestar copies each handler's `opt`: every handler must share this one

    def arm(self, client_id: str, bursts: Sequence[AirtableFault]) -> None:
        plain = [burst for burst in bursts if burst.matching is None]
        texts = dict.fromkeys(burst.matching for burst in bursts if burst.matching is not None)
        targeted = [
            (text.encode(), _steps([burst for burst in bursts if burst.matching == text]))
            for text in texts
        ]
        with self._lock:
            self._schedules[client_id] = _steps(plain)
            self._targeted[client_id] = targeted

    def clear(self, client_id: str) -> None:
        with self._lock:
            self._schedules.pop(client_id, None)
            self._targeted.pop(client_id, None)

    def pending(self, client_id: str) -> int:
        """Faults still to be answered to this client (its own schedule)."""
        with self._lock:
            schedules = [self._schedules.get(client_id, deque())]
            schedules += [steps for _, steps in self._targeted.get(client_id, [])]
            return sum(s.remaining for steps in schedules for s in steps if s.kind is not None)

    def targets(self, client_id: str) -> bool:
        """Whether a burst matching a text is armed for this client's requests (their body is
        read then)."""
        with self._lock:
            return any(
                steps
                for key in (client_id, ALL_CLIENTS)
                for _, steps in self._targeted.get(key, [])
            )

    def _next(self, client_id: str, body: bytes) -> str | None:
        with self._lock:
            for key in (client_id, ALL_CLIENTS):
                for text, steps in self._targeted.get(key, []):
                    if steps and text in body:
                        return self._take(steps)
            for key in (client_id, ALL_CLIENTS):
                plain = self._schedules.get(key)
                if plain:
                    return self._take(plain)
        return None

    def _take(self, steps: deque[_Step]) -> str | None:
        step = steps[0]
        step.remaining -= 1
        if step.remaining <= 0:
            steps.popleft()
        if step.kind is not None:
            self.injected[step.kind] = self.injected.get(step.kind, 0) + 1
        return step.kind

    async def strike(self, client_id: str, body: bytes = b"") -> None:
        """Answer this request with the scheduled fault, if one is due."""
        kind = self._next(client_id, body)
        if kind == "429":
            raise rate_limited()
        if kind == "503":
            raise retriable_error()
        if kind == "timeout":
            await asyncio.sleep(self.timeout_seconds)
            raise retriable_error()


def _steps(bursts: Sequence[AirtableFault]) -> deque[_Step]:
    steps: deque[_Step] = deque()
    for burst in bursts:
        if burst.after:
            steps.append(_Step(None, burst.after))
        steps.append(_Step(burst.kind, burst.count))
    return steps
