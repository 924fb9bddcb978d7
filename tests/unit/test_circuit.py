"""The circuit breaker per Airtable base: it opens after repeated transient failures, holds calls
back during its cool-down, half-opens for one probe, and closes on an answer. And the emulator's
fault schedule, which the fault-injection suite relies on."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import requests

from app.integrations.airtable import GuardedAirtableClient, UpsertResult
from app.integrations.circuit import CircuitBreaker, CircuitOpen, CircuitState, is_transient
from app.integrations.errors import AmsRequestError
from app.observability.metrics import REGISTRY
from app.sandbox.airtable.errors import AirtableError
from app.sandbox.airtable.faults import FaultInjector
from app.settings import AirtableFault, Settings

BASE = "appCircuit0000001"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rate_limited() -> AmsRequestError:
    return AmsRequestError("Airtable", 429, "RATE_LIMIT_REACHED", "slow down")


def call(breaker: CircuitBreaker, outcome: Callable[[], Any], base: str = BASE) -> Any:
    with breaker.guard(base):
        return outcome()


def fail_with(error: BaseException) -> Callable[[], Any]:
    def raise_it() -> Any:
        raise error

    return raise_it


def gauge(base: str) -> float | None:
    return REGISTRY.get_sample_value("gateway_ams_circuit_state", {"base": base})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cooldown_seconds=30, clock=clock)


def test_transient_faults_are_429_5xx_timeouts_and_lost_connections():
    assert is_transient(rate_limited())
    assert is_transient(AmsRequestError("Airtable", 503, "RETRIABLE_ERROR", ""))
    assert is_transient(AmsRequestError("Airtable", 0, "NO_RESPONSE", ""))
    assert is_transient(requests.ReadTimeout())
    assert is_transient(requests.ConnectionError())
    assert not is_transient(AmsRequestError("Airtable", 422, "UNKNOWN_FIELD_NAME", ""))
    assert not is_transient(CircuitOpen(BASE, 3))


def test_the_circuit_opens_after_the_threshold_of_failures_in_a_row(breaker):
    for _ in range(2):
        with pytest.raises(AmsRequestError):
            call(breaker, fail_with(rate_limited()))
    assert breaker.state(BASE) is CircuitState.CLOSED
    with pytest.raises(requests.ReadTimeout):
        call(breaker, fail_with(requests.ReadTimeout()))
    assert breaker.state(BASE) is CircuitState.OPEN
    assert gauge(BASE) == 2

    sent: list[str] = []
    with pytest.raises(CircuitOpen) as refused:
        call(breaker, lambda: sent.append("sent"))
    assert sent == [], "an open circuit does not reach Airtable"
    assert refused.value.retry_after == pytest.approx(30)
    assert refused.value.code == "ams_circuit_open"


def test_a_success_between_failures_resets_the_count(breaker):
    for _ in range(2):
        with pytest.raises(AmsRequestError):
            call(breaker, fail_with(rate_limited()))
    call(breaker, lambda: "ok")
    for _ in range(2):
        with pytest.raises(AmsRequestError):
            call(breaker, fail_with(rate_limited()))
    assert breaker.state(BASE) is CircuitState.CLOSED


def test_an_answer_that_is_not_transient_counts_as_the_base_answering(breaker):
    for _ in range(5):
        with pytest.raises(AmsRequestError):
            call(breaker, fail_with(AmsRequestError("Airtable", 422, "INVALID_VALUE", "")))
    assert breaker.state(BASE) is CircuitState.CLOSED


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it(breaker, clock):
    open_circuit(breaker)
    clock.now += 29.9
    with pytest.raises(CircuitOpen):
        call(breaker, lambda: "ok")
    clock.now += 0.2

    breaker.admit(BASE)  # the probe, still out
    assert breaker.state(BASE) is CircuitState.HALF_OPEN
    assert gauge(BASE) == 1
    with pytest.raises(CircuitOpen):
        call(breaker, lambda: "ok")  # only one probe at a time
    breaker._settle(BASE, failed=False)

    assert breaker.state(BASE) is CircuitState.CLOSED
    assert gauge(BASE) == 0
    assert call(breaker, lambda: "ok") == "ok"


def test_a_failed_probe_opens_the_circuit_for_another_cool_down(breaker, clock):
    open_circuit(breaker)
    clock.now += 31
    with pytest.raises(AmsRequestError):
        call(breaker, fail_with(AmsRequestError("Airtable", 503, "RETRIABLE_ERROR", "")))
    assert breaker.state(BASE) is CircuitState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpen):
        call(breaker, lambda: "ok")
    clock.now += 2
    assert call(breaker, lambda: "ok") == "ok"
    assert breaker.state(BASE) is CircuitState.CLOSED


def test_a_probe_ended_by_something_else_than_airtable_frees_the_half_open_slot(breaker, clock):
    open_circuit(breaker)
    clock.now += 31
    with pytest.raises(asyncio.CancelledError):
        call(breaker, fail_with(asyncio.CancelledError()))
    assert breaker.state(BASE) is CircuitState.HALF_OPEN
    assert call(breaker, lambda: "ok") == "ok"


def test_each_base_has_its_own_circuit(breaker):
    open_circuit(breaker)
    other = "appCircuit0000002"
    assert call(breaker, lambda: "ok", base=other) == "ok"
    assert breaker.state(other) is CircuitState.CLOSED


def open_circuit(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        with pytest.raises(AmsRequestError):
            call(breaker, fail_with(rate_limited()))
    assert breaker.state(BASE) is CircuitState.OPEN


class FlakyAirtable:
    """An AirtableClient whose writes fail while `failing` is set."""

    def __init__(self) -> None:
        self.failing = True
        self.calls = 0

    def batch_upsert(self, base_id: str, table: str, *args: Any, **kwargs: Any) -> UpsertResult:
        self.calls += 1
        if self.failing:
            raise AmsRequestError("Airtable", 503, "RETRIABLE_ERROR", "busy")
        return UpsertResult(created=["rec1"])

    def batch_delete(self, base_id: str, table: str, record_ids: Any) -> list[str]:
        self.calls += 1
        return list(record_ids)


def test_the_guarded_client_puts_writes_and_deletes_through_the_circuit(breaker):
    inner = FlakyAirtable()
    client = GuardedAirtableClient(inner, breaker, "http://airtable.test")  # type: ignore[arg-type]
    for _ in range(3):
        with pytest.raises(AmsRequestError):
            client.batch_upsert(BASE, "Products", [{"SKU": "1"}], ["SKU"])
    with pytest.raises(CircuitOpen):
        client.batch_upsert(BASE, "Products", [{"SKU": "1"}], ["SKU"])
    with pytest.raises(CircuitOpen):
        client.batch_delete(BASE, "Products", ["rec1"])
    assert inner.calls == 3


def burst(kind: str, count: int, after: int = 0) -> AirtableFault:
    return AirtableFault.model_validate({"kind": kind, "count": count, "after": after})


async def outcomes(injector: FaultInjector, client_id: str, requests_made: int) -> list[int]:
    found = []
    for _ in range(requests_made):
        try:
            await injector.strike(client_id)
            found.append(200)
        except AirtableError as error:
            found.append(error.status)
    return found


async def test_the_fault_schedule_plays_its_bursts_in_order_then_lets_everything_through():
    injector = FaultInjector([], timeout_seconds=0)
    injector.arm("cli_a", [burst("429", 2, after=1), burst("503", 1), burst("timeout", 1)])
    assert injector.pending("cli_a") == 4

    assert await outcomes(injector, "cli_a", 7) == [200, 429, 429, 503, 503, 200, 200]
    assert injector.injected == {"429": 2, "503": 1, "timeout": 1}
    assert injector.pending("cli_a") == 0


async def test_an_armed_schedule_touches_only_its_client_and_settings_faults_touch_all():
    injector = FaultInjector([burst("503", 1)], timeout_seconds=0)
    injector.arm("cli_a", [burst("429", 1)])
    assert await outcomes(injector, "cli_b", 2) == [503, 200]
    assert await outcomes(injector, "cli_a", 2) == [429, 200]
    injector.arm("cli_a", [burst("429", 5)])
    injector.clear("cli_a")
    assert await outcomes(injector, "cli_a", 1) == [200]


def fault_routes(**settings: Any) -> list[str]:
    from app.sandbox.airtable.routes import airtable_routes

    base = Settings(database_url="sqlite+aiosqlite:///:memory:", **settings)
    return [route.path for route in airtable_routes(base)[0].routes if "_faults" in route.path]


def test_the_fault_admin_endpoint_is_served_only_when_the_gateway_turns_it_on():
    assert fault_routes() == []
    assert fault_routes(sandbox_airtable_fault_admin=True) == ["/sandbox/airtable/_faults"]


def test_faults_from_settings_are_validated_when_the_gateway_starts():
    with pytest.raises(ValueError, match="kind"):
        Settings(sandbox_airtable_faults=[{"kind": "418", "count": 1}])
    with pytest.raises(ValueError, match="count"):
        Settings(sandbox_airtable_faults=[{"kind": "429", "count": 0}])
