"""The circuit breaker shared through Redis: two breakers stand for two worker processes on the
real Redis. One opens a base's circuit, the other sees it open; after the cool-down exactly one
probe goes out across them; its answer closes (or reopens) the circuit for both. Redis failing
never fails a call: the process's own circuit stands in."""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import requests

from app.integrations.circuit import KEY_PREFIX, CircuitOpen, CircuitState, SharedCircuitBreaker
from app.integrations.errors import AmsRequestError
from tests.conftest import REDIS_URL, require_service

pytestmark = pytest.mark.redis

THRESHOLD = 3
COOLDOWN = 0.3


@pytest.fixture
def base() -> Iterator[str]:
    base_id = "app" + uuid.uuid4().hex[:14]
    yield base_id
    client = redis.Redis.from_url(require_service(REDIS_URL, "redis"))
    client.delete(KEY_PREFIX + base_id, KEY_PREFIX + base_id + ":probe")
    client.close()


def worker() -> SharedCircuitBreaker:
    """One process's breaker: its own Redis connection, the shared keys."""
    client = redis.Redis.from_url(require_service(REDIS_URL, "redis"))
    return SharedCircuitBreaker(client, THRESHOLD, COOLDOWN, probe_seconds=5)


def unavailable() -> AmsRequestError:
    return AmsRequestError("Airtable", 503, "RETRIABLE_ERROR", "try again")


def fail(breaker: SharedCircuitBreaker, base: str) -> None:
    with pytest.raises(AmsRequestError), breaker.guard(base):
        raise unavailable()


def half_open(breaker: SharedCircuitBreaker, base: str) -> None:
    deadline = time.monotonic() + 10
    while breaker.state(base) is not CircuitState.HALF_OPEN:
        assert time.monotonic() < deadline, "the circuit never half-opened"
        time.sleep(0.02)


def test_one_worker_opens_the_circuit_and_the_other_sees_it_open(base):
    first, second = worker(), worker()
    for _ in range(THRESHOLD - 1):
        fail(first, base)
    assert second.state(base) is CircuitState.CLOSED  # failures are shared, not yet enough
    fail(second, base)  # the other worker's failure completes the threshold

    assert first.state(base) is second.state(base) is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as held, first.guard(base):
        raise AssertionError("a call went through an open circuit")
    assert 0 < held.value.retry_after <= COOLDOWN


def test_after_the_cool_down_one_probe_goes_out_and_its_success_closes_it_for_all(base):
    first, second = worker(), worker()
    for _ in range(THRESHOLD):
        fail(first, base)
    half_open(second, base)

    with first.guard(base), pytest.raises(CircuitOpen), second.guard(base):  # first: the probe
        raise AssertionError("a second probe went out")
    assert second.state(base) is CircuitState.CLOSED
    with second.guard(base):
        pass


def test_a_failed_probe_reopens_the_circuit_for_another_cool_down(base):
    first, second = worker(), worker()
    for _ in range(THRESHOLD):
        fail(first, base)
    half_open(first, base)
    fail(second, base)  # the probe, answered 503
    assert first.state(base) is CircuitState.OPEN
    with pytest.raises(CircuitOpen), first.guard(base):
        raise AssertionError("a call went through an open circuit")


def test_of_many_calls_at_the_half_open_moment_exactly_one_is_the_probe(base):
    breakers = [worker() for _ in range(2)]
    for _ in range(THRESHOLD):
        fail(breakers[0], base)
    half_open(breakers[1], base)
    start, admitted, refused = threading.Barrier(8), [], []

    def call(breaker: SharedCircuitBreaker) -> None:
        start.wait()
        try:
            admitted.append(breaker.admit(base))
        except CircuitOpen:
            refused.append(1)

    threads = [threading.Thread(target=call, args=(breakers[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 1 and len(refused) == 7
    assert admitted[0] is not None  # the probe's token, so only its answer frees the probe


def test_a_probe_without_an_answer_frees_the_probe_for_another_worker(base):
    first, second = worker(), worker()
    for _ in range(THRESHOLD):
        fail(first, base)
    half_open(first, base)
    with pytest.raises(KeyError), first.guard(base):  # a bug, not an answer from Airtable
        raise KeyError("no verdict")
    with second.guard(base):  # the next probe
        pass
    assert first.state(base) is CircuitState.CLOSED


def test_redis_failing_never_fails_a_call_and_the_process_circuit_stands_in(base):
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    breaker = SharedCircuitBreaker(down, THRESHOLD, COOLDOWN, probe_seconds=5)
    with breaker.guard(base):
        pass  # answered although Redis is unreachable
    for _ in range(THRESHOLD):
        with pytest.raises(requests.ReadTimeout), breaker.guard(base):
            raise requests.ReadTimeout()
    assert breaker.state(base) is CircuitState.OPEN  # this process's own circuit
