"""A circuit breaker per Airtable base, and the retry policy for Airtable's transient faults.

Transient faults are 429 (rate limited), 5xx (503 RETRIABLE_ERROR) and timeouts or lost
connections: the request may succeed if sent again later. After `failure_threshold` of them in a
row a base's circuit opens: every call to that base fails at once with `CircuitOpen`, without
touching Airtable, for `cooldown_seconds` (at least Airtable's 30-second 429 penalty, so we never
extend it). Then the circuit half-opens: one call goes through as a probe; its success closes the
circuit, its transient failure opens it again for another cool-down. An answer that is not a
transient fault (a 422, say) proves the base is reachable and closes the circuit too.

The breaker lives in this process (each worker learns on its own, within a few requests); the
pace of requests per base is shared through Redis by `app.ams.pacing`. Callers that see
`CircuitOpen` keep their records due: nothing is marked failed for a transient fault.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import requests
import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from app.errors import GatewayError
from app.integrations.errors import AmsRequestError
from app.observability.metrics import AMS_CIRCUIT_STATE
from app.settings import Settings

RATE_LIMITED = 429
log = structlog.get_logger("gateway.ams")


class CircuitState(IntEnum):
    """The gauge's values: 0 closed, 1 half-open, 2 open."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpen(GatewayError):
    """Calls to this base are held back after repeated transient failures; retry later."""

    def __init__(self, base_id: str, retry_after: float) -> None:
        super().__init__(
            "ams_circuit_open",
            f"Airtable base {base_id} is not answering after repeated failures; calls resume "
            f"in {retry_after:.0f} s.",
        )
        self.base_id = base_id
        self.retry_after = retry_after


def is_transient(error: BaseException) -> bool:
    """A fault that may pass by itself: 429, 5xx, no response, a timeout or a lost connection."""
    if isinstance(error, AmsRequestError):
        return error.status == RATE_LIMITED or error.status >= 500 or error.status == 0
    return isinstance(error, requests.Timeout | requests.ConnectionError | TimeoutError)


@dataclass
class _Circuit:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0  # transient failures in a row
    opened_at: float = 0.0
    probing: bool = False  # half-open: the one probe call is out


class CircuitBreaker:
    """Circuits keyed by base id. Thread-safe: pyairtable calls run in worker threads."""

    def __init__(
        self,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def state(self, base_id: str) -> CircuitState:
        with self._lock:
            circuit = self._circuits.get(base_id)
            return circuit.state if circuit else CircuitState.CLOSED

    @contextmanager
    def guard(self, base_id: str) -> Iterator[None]:
        """Run one call to `base_id` through the circuit (raises `CircuitOpen` when it is open)."""
        self.admit(base_id)
        try:
            yield
        except AmsRequestError as error:
            self._settle(base_id, failed=is_transient(error))
            raise
        except BaseException as error:
            if is_transient(error):
                self._settle(base_id, failed=True)
            else:  # not an answer from Airtable (a bug, a cancellation): no verdict
                self._release_probe(base_id)
            raise
        self._settle(base_id, failed=False)

    def admit(self, base_id: str) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(base_id, _Circuit())
            if circuit.state is CircuitState.CLOSED:
                return
            if circuit.state is CircuitState.OPEN:
                waited = self._clock() - circuit.opened_at
                if waited < self.cooldown_seconds:
                    raise CircuitOpen(base_id, self.cooldown_seconds - waited)
                self._move(base_id, circuit, CircuitState.HALF_OPEN)
            if circuit.probing:  # half-open: another call is the probe, soon answered
                raise CircuitOpen(base_id, min(1.0, max(0.05, self.cooldown_seconds / 10)))
            circuit.probing = True

    def _settle(self, base_id: str, failed: bool) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(base_id, _Circuit())
            circuit.probing = False
            if not failed:
                circuit.failures = 0
                self._move(base_id, circuit, CircuitState.CLOSED)
                return
            circuit.failures += 1
            half_open = circuit.state is CircuitState.HALF_OPEN
            if half_open or circuit.failures >= self.failure_threshold:
                circuit.opened_at = self._clock()
                self._move(base_id, circuit, CircuitState.OPEN)

    def _release_probe(self, base_id: str) -> None:
        with self._lock:
            circuit = self._circuits.get(base_id)
            if circuit is not None:
                circuit.probing = False

    def _move(self, base_id: str, circuit: _Circuit, state: CircuitState) -> None:
        if state is CircuitState.OPEN:
            log.warning("ams.circuit_opened", base_id=base_id, failures=circuit.failures)
        elif state is CircuitState.CLOSED and circuit.state is not CircuitState.CLOSED:
            log.warning("ams.circuit_closed", base_id=base_id)
        circuit.state = state
        AMS_CIRCUIT_STATE.labels(base=base_id).set(int(state))


@lru_cache
def _process_breaker(failure_threshold: int, cooldown_seconds: float) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold, cooldown_seconds)


def breaker_for(settings: Settings) -> CircuitBreaker:
    """The process's breaker: every Airtable client of this process shares its circuits."""
    return _process_breaker(
        settings.ams_circuit_failure_threshold, settings.ams_circuit_cooldown_seconds
    )


def airtable_retrying(settings: Settings, attempts: int | None = None) -> AsyncRetrying:
    """Retries of transient faults with exponential backoff and full jitter; an open circuit is
    not retried here (the caller keeps its records due and tries again later)."""
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts or settings.ams_write_attempts),
        wait=wait_exponential_jitter(
            initial=settings.ams_retry_initial_seconds,
            max=settings.ams_retry_max_seconds,
            jitter=settings.ams_retry_initial_seconds,
        ),
        reraise=True,
    )
