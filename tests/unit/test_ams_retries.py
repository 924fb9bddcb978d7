"""What counts as a record's failed attempt, how long it waits before the next, and the
emulator's faults aimed at one record."""

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from app.ams.retries import AmsRecordRetry, Failure, asset_failure, backoff, failure_of, waiting
from app.assets.errors import AssetHttpStatus, AssetTimeout
from app.integrations.circuit import CircuitOpen
from app.integrations.errors import AmsNotConfigured, AmsRequestError
from app.sandbox.airtable.errors import AirtableError
from app.sandbox.airtable.faults import FaultInjector
from app.settings import AirtableFault

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)


def test_transient_failures_count_and_anything_else_fails_the_sync():
    unavailable = failure_of(AmsRequestError("Airtable", 503, "RETRIABLE_ERROR", "x"))
    assert unavailable == Failure("RETRIABLE_ERROR", "Airtable answered 503 on every try.")
    assert failure_of(AmsRequestError("Airtable", 429, "RATE_LIMIT_REACHED", "x")) is not None
    assert failure_of(requests.ReadTimeout("https://api.airtable.com/v0/app?secret")) == Failure(
        "timeout", "Airtable did not answer in time on every try."
    )
    assert failure_of(CircuitOpen("appX", 3)) is not None
    assert failure_of(AmsRequestError("Airtable", 404, "NOT_FOUND", "x")) is None
    assert failure_of(AmsRequestError("Airtable", 401, "AUTHENTICATION_REQUIRED", "x")) is None
    assert failure_of(AmsNotConfigured("no key")) is None
    assert failure_of(KeyError("bug")) is None


def test_an_asset_failure_keeps_its_code_but_not_its_url():
    failure = asset_failure(AssetTimeout("https://cdn.example.com/a.jpg?token=s3cr3t", 20))
    assert failure.error_type == "asset_timeout" and "http" not in failure.message
    assert asset_failure(AssetHttpStatus("https://x.example/a", 503)).error_type == (
        "asset_http_status"
    )


def test_the_backoff_doubles_with_jitter_and_is_capped():
    for failures, steps in ((1, 0), (2, 1), (4, 3), (7, 6), (30, 6)):
        waited = backoff(30.0, failures).total_seconds()
        assert 30 * 2**steps <= waited <= 30 * 2**steps * 1.2


def _retry(content_hash: str, retry_at: datetime) -> AmsRecordRetry:
    return AmsRecordRetry(content_hash=content_hash, retry_at=retry_at, attempts=2)


def test_a_record_waits_out_its_backoff_unless_its_content_changed():
    record: Any = SimpleNamespace(content_hash="h1")
    later = NOW + timedelta(seconds=5)
    assert waiting(_retry("h1", later), record, NOW)
    assert not waiting(_retry("h1", NOW - timedelta(seconds=1)), record, NOW)
    assert not waiting(_retry("h0", later), record, NOW)  # a newer version goes at once
    assert not waiting(None, record, NOW)


def test_a_fault_matching_a_text_strikes_only_the_requests_that_carry_it():
    injector = FaultInjector([], timeout_seconds=0)
    injector.arm("cli_1", [AirtableFault(kind="503", count=2, matching="poisoned-7")])
    assert injector.targets("cli_1") and not injector.targets("cli_2")
    assert injector.pending("cli_1") == 2

    asyncio.run(injector.strike("cli_1", b'{"records": [{"fields": {"id": "other"}}]}'))
    for _ in range(2):
        with pytest.raises(AirtableError) as struck:
            asyncio.run(injector.strike("cli_1", b'{"fields": {"id": "poisoned-7"}}'))
        assert struck.value.status == 503
    asyncio.run(injector.strike("cli_1", b'{"fields": {"id": "poisoned-7"}}'))  # spent
    assert injector.pending("cli_1") == 0
