"""A circuit breaker per Airtable base, and the retry policy for Airtable's transient faults.

Transient faults are 429 (rate limited), 5xx (503 RETRIABLE_ERROR) and timeouts or lost
connections: the request may succeed if sent again later. After `failure_threshold` of them in a
row a base's circuit opens: every call to that base fails at once with `CircuitOpen`, without
touching Airtable, for `cooldown_seconds` (at least Airtable's 30-second 429 penalty, so we never
extend it). Then the circuit half-opens: one call goes through as a probe; its success closes the
circuit, its transient failure opens it again for another cool-down. An answer that is not a
transient fault (a 422, say) proves the base is reachable and closes the circuit too.

With Redis configured the circuits are shared by every process (`SharedCircuitBreaker`): one
worker's failures open the base for all, and one probe at a time goes out across them, its
ownership a key set only if absent, with an expiry (a probe whose process died frees itself).
The state moves by Lua scripts on Redis's own clock, so each step is atomic and no worker's clock
matters. When Redis errs, a process falls back to its own circuits for that call: a Redis hiccup
never fails a write. Without Redis the breaker lives in the process (each worker learns on its
own, within a few requests). The pace of requests per base is shared by `app.ams.pacing`.
Callers that see `CircuitOpen` do not count it against records unless they waited it out (see
`app.ams.retries`).
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import redis
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
        probe = self.admit(base_id)
        try:
            yield
        except AmsRequestError as error:
            self._settle(base_id, failed=is_transient(error), probe=probe)
            raise
        except BaseException as error:
            if is_transient(error):
                self._settle(base_id, failed=True, probe=probe)
            else:  # not an answer from Airtable (a bug, a cancellation): no verdict
                self._release_probe(base_id, probe)
            raise
        self._settle(base_id, failed=False, probe=probe)

    def admit(self, base_id: str) -> str | None:
        """Let a call through, or raise `CircuitOpen`; the probe's token when it is the probe."""
        with self._lock:
            circuit = self._circuits.setdefault(base_id, _Circuit())
            if circuit.state is CircuitState.CLOSED:
                return None
            if circuit.state is CircuitState.OPEN:
                waited = self._clock() - circuit.opened_at
                if waited < self.cooldown_seconds:
                    raise CircuitOpen(base_id, self.cooldown_seconds - waited)
                self._move(base_id, circuit, CircuitState.HALF_OPEN)
            if circuit.probing:  # half-open: another call is the probe, soon answered
                raise CircuitOpen(base_id, self._probe_wait())
            circuit.probing = True
            return LOCAL_PROBE

    def _probe_wait(self) -> float:
        return min(1.0, max(0.05, self.cooldown_seconds / 10))

    def _settle(self, base_id: str, failed: bool, probe: str | None = None) -> None:
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

    def _release_probe(self, base_id: str, probe: str | None = None) -> None:
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


LOCAL_PROBE = "local"  # the in-process circuit's probe (one flag per circuit, no token)
KEY_PREFIX = "gateway:ams:circuit:"
REDIS_PAUSE_SECONDS = 5.0

# Each script reads Redis's clock (TIME) in milliseconds. The state hash holds `failures` (in a
# row) and `open_until` (0 or absent: closed; in the future: open; past: half-open).
_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
"""
# KEYS: state, probe. ARGV: token, probe ttl ms. → {0 closed | 1 the probe | 2 open | 3 probe
# out, milliseconds to wait}
_ADMIT = (
    _NOW
    + """
if open_until == 0 then return {0, 0} end
if now < open_until then return {2, open_until - now} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {3, redis.call('PTTL', KEYS[2])}
"""
)
# KEYS: state, probe. ARGV: failed (0/1), token, threshold, cool-down ms, state ttl ms. → state
_SETTLE = (
    _NOW
    + """
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
if ARGV[1] == '0' then
  redis.call('DEL', KEYS[1])
  return 0
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if open_until > now then return 2 end
if open_until > 0 or failures >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[4]))
  return 2
end
return 0
"""
)
# KEYS: state, probe. ARGV: token. Frees the probe without a verdict.
_RELEASE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 0
"""
# KEYS: state. → 0 closed, 1 half-open, 2 open
_STATE = (
    _NOW
    + """
if open_until == 0 then return 0 end
if now < open_until then return 2 end
return 1
"""
)


class SharedCircuitBreaker(CircuitBreaker):
    """Circuits kept in Redis, shared by every process; this process's own circuits stand in
    for any call during which Redis errs."""

    def __init__(
        self,
        client: "redis.Redis",
        failure_threshold: int,
        cooldown_seconds: float,
        probe_seconds: float,
    ) -> None:
        super().__init__(failure_threshold, cooldown_seconds)
        self._redis = client
        self._probe_ms = max(1, round(probe_seconds * 1000))
        self._cooldown_ms = max(1, round(cooldown_seconds * 1000))
        self._state_ms = self._cooldown_ms + 3_600_000  # failures in a row are forgotten after
        self._admit = client.register_script(_ADMIT)
        self._settle_script = client.register_script(_SETTLE)
        self._release = client.register_script(_RELEASE)
        self._state = client.register_script(_STATE)
        self._redis_down_until = 0.0  # after an error, Redis is left alone for a few seconds

    def _shared(self) -> bool:
        return self._clock() >= self._redis_down_until

    def _redis_failed(self, step: str, error: redis.RedisError) -> None:
        log.warning("ams.circuit_redis_failed", step=step, error=type(error).__name__)
        self._redis_down_until = self._clock() + REDIS_PAUSE_SECONDS

    @staticmethod
    def _keys(base_id: str) -> list[str]:
        return [KEY_PREFIX + base_id, KEY_PREFIX + base_id + ":probe"]

    def state(self, base_id: str) -> CircuitState:
        if self._shared():
            try:
                return CircuitState(int(self._state(keys=self._keys(base_id)[:1])))
            except redis.RedisError as error:
                self._redis_failed("state", error)
        return super().state(base_id)

    def admit(self, base_id: str) -> str | None:
        if not self._shared():
            return super().admit(base_id)
        token = uuid.uuid4().hex
        try:
            verdict, wait_ms = self._admit(keys=self._keys(base_id), args=[token, self._probe_ms])
        except redis.RedisError as error:
            self._redis_failed("admit", error)
            return super().admit(base_id)
        verdict, wait_ms = int(verdict), int(wait_ms)
        if verdict == 0:
            self._show(base_id, CircuitState.CLOSED)
            return None
        if verdict == 1:
            self._show(base_id, CircuitState.HALF_OPEN)
            return token
        self._show(base_id, CircuitState.OPEN if verdict == 2 else CircuitState.HALF_OPEN)
        wait = wait_ms / 1000 if verdict == 2 else self._probe_wait()
        raise CircuitOpen(base_id, max(wait, 0.001))

    def _settle(self, base_id: str, failed: bool, probe: str | None = None) -> None:
        if probe == LOCAL_PROBE or not self._shared():  # this process's circuit stands in
            super()._settle(base_id, failed, probe)
            return
        args: list[str | int] = [
            int(failed),
            probe or "",
            self.failure_threshold,
            self._cooldown_ms,
            self._state_ms,
        ]
        try:
            state = self._settle_script(keys=self._keys(base_id), args=args)
        except redis.RedisError as error:
            self._redis_failed("settle", error)
            super()._settle(base_id, failed, probe)
            return
        self._show(base_id, CircuitState(int(state)))

    def _release_probe(self, base_id: str, probe: str | None = None) -> None:
        if probe is None or probe == LOCAL_PROBE:
            super()._release_probe(base_id, probe)
            return
        try:
            self._release(keys=self._keys(base_id), args=[probe])
        except redis.RedisError as error:  # the probe key expires by itself
            self._redis_failed("release", error)

    def _show(self, base_id: str, state: CircuitState) -> None:
        """This process's gauge and log lines follow what it learns from Redis."""
        with self._lock:
            circuit = self._circuits.setdefault(base_id, _Circuit())
            if state is not circuit.state:
                self._move(base_id, circuit, state)


@lru_cache
def _process_breaker(failure_threshold: int, cooldown_seconds: float) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold, cooldown_seconds)


@lru_cache
def _shared_breaker(
    redis_url: str, failure_threshold: int, cooldown_seconds: float, probe_seconds: float
) -> SharedCircuitBreaker:
    client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    return SharedCircuitBreaker(client, failure_threshold, cooldown_seconds, probe_seconds)


def breaker_for(settings: Settings) -> CircuitBreaker:
    """The process's breaker: every Airtable client of this process shares its circuits, and
    with Redis every process does."""
    threshold, cooldown = (
        settings.ams_circuit_failure_threshold,
        settings.ams_circuit_cooldown_seconds,
    )
    if settings.redis_url:
        # A probe is one request: it frees its key when answered, or after its read timeout.
        probe = settings.ams_airtable_timeout_seconds + 5.0
        return _shared_breaker(settings.redis_url, threshold, cooldown, probe)
    return _process_breaker(threshold, cooldown)


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
