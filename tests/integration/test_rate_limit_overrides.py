"""Operators set and clear a client's own rate limits (per bucket: API calls or webhook
deliveries); the client sees its current limits in `viewer`; the process that made the change
applies it at once, every other process within GATEWAY_RATE_LIMIT_OVERRIDE_TTL_SECONDS."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.asgi import create_app
from app.services import Services
from app.settings import Settings
from tests.conftest import GraphQL, Tenant, create_tenant, make_settings
from tests.integration.test_key_lifecycle import operator_key

SET = """mutation($input: SetRateLimitInput!) {
  setRateLimit(input: $input) {
    clientId errors { code message path }
    rateLimits { api { burst requestsPerSecond custom } webhook { burst requestsPerSecond custom } }
  }
}"""
CLEAR = """mutation($input: ClearRateLimitInput!) {
  clearRateLimit(input: $input) {
    clientId errors { code path }
    rateLimits { api { burst custom } webhook { burst custom } }
  }
}"""
VIEWER = """query { viewer { rateLimits {
  api { door burst requestsPerSecond custom } webhook { door burst requestsPerSecond custom }
} } }"""


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return make_settings(
        database_url,
        sandbox_blob_dir=tmp_path / "blobs",
        rate_limit_burst=50,
        rate_limit_per_second=10.0,
        webhook_rate_limit_burst=400,
        webhook_rate_limit_per_second=200.0,
        rate_limit_override_ttl_seconds=0.3,
    )


async def set_limit(gql: GraphQL, operator: str, **fields: Any) -> dict[str, Any]:
    data = await gql(SET, {"input": fields}, key=operator)
    payload: dict[str, Any] = data["setRateLimit"]
    return payload


async def test_a_client_sees_its_defaults_then_the_limit_an_operator_set(gql, services, tenant):
    operator = await operator_key(services)
    view = (await gql(VIEWER, key=tenant.secret))["viewer"]["rateLimits"]
    assert view["api"] == {"door": "API", "burst": 50, "requestsPerSecond": 10.0, "custom": False}
    assert view["webhook"]["burst"] == 400

    changed = await set_limit(
        gql, operator, client=tenant.client_id, requestsPerSecond=0.05, burst=2
    )
    assert changed["errors"] == []
    assert changed["clientId"] == tenant.client_id
    assert changed["rateLimits"]["api"] == {"burst": 2, "requestsPerSecond": 0.05, "custom": True}
    assert changed["rateLimits"]["webhook"]["custom"] is False

    view = (await gql(VIEWER, key=tenant.secret))["viewer"]["rateLimits"]
    assert view["api"] == {"door": "API", "burst": 2, "requestsPerSecond": 0.05, "custom": True}


async def test_the_new_limit_applies_at_once_in_the_process_that_set_it(api, gql, services, tenant):
    operator = await operator_key(services)
    assert (await api.get("/jobs", headers=tenant.headers)).headers["ratelimit-limit"] == "50"
    await set_limit(gql, operator, client=tenant.client_id, requestsPerSecond=0.01, burst=2)
    answers = [await api.get("/jobs", headers=tenant.headers) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].headers["ratelimit-limit"] == "2"

    cleared = (await gql(CLEAR, {"input": {"client": tenant.client_id}}, key=operator))[
        "clearRateLimit"
    ]
    assert cleared["errors"] == []
    assert cleared["rateLimits"]["api"] == {"burst": 50, "custom": False}
    assert (await api.get("/jobs", headers=tenant.headers)).headers["ratelimit-limit"] == "50"


async def test_one_bucket_is_set_and_cleared_without_touching_the_other(gql, services, tenant):
    operator = await operator_key(services)
    await set_limit(gql, operator, client=tenant.client_id, requestsPerSecond=5, burst=7)
    webhook = await set_limit(
        gql, operator, client=tenant.client_id, requestsPerSecond=9, burst=11, door="WEBHOOK"
    )
    assert webhook["rateLimits"]["api"] == {"burst": 7, "requestsPerSecond": 5.0, "custom": True}
    assert webhook["rateLimits"]["webhook"] == {
        "burst": 11,
        "requestsPerSecond": 9.0,
        "custom": True,
    }
    variables = {"input": {"client": tenant.client_id, "door": "API"}}
    cleared = (await gql(CLEAR, variables, key=operator))["clearRateLimit"]["rateLimits"]
    assert cleared == {
        "api": {"burst": 50, "custom": False},
        "webhook": {"burst": 11, "custom": True},
    }


async def test_bad_limits_and_unknown_clients_are_field_errors(gql, services, tenant):
    operator = await operator_key(services)
    bad = await set_limit(gql, operator, client=tenant.client_id, requestsPerSecond=0, burst=0)
    assert {(e["code"], e["path"]) for e in bad["errors"]} == {
        ("invalid_rate_limit", "burst"),
        ("invalid_rate_limit", "requestsPerSecond"),
    }
    assert bad["rateLimits"] is None
    unknown = await set_limit(gql, operator, client="cli_missing", requestsPerSecond=1, burst=1)
    assert [e["code"] for e in unknown["errors"]] == ["not_found"]
    view = (await gql(VIEWER, key=tenant.secret))["viewer"]["rateLimits"]
    assert view["api"]["custom"] is False


async def test_a_client_key_cannot_set_its_own_limits(gql, tenant):
    variables = {"input": {"client": tenant.client_id, "requestsPerSecond": 1000, "burst": 1000}}
    response = await gql.raw(SET, variables, key=tenant.secret)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "operator_only"


@pytest.fixture
async def second_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process on the same database: its own Services, its own limits cache."""
    services = Services.create(settings)
    await services.start()
    transport = httpx.ASGITransport(app=create_app(settings, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://second.test") as client:
            yield client
    finally:
        await services.stop()


async def _limit_seen(client: httpx.AsyncClient, tenant: Tenant, expected: str) -> None:
    deadline = time.monotonic() + 30
    while (await client.get("/jobs", headers=tenant.headers)).headers[
        "ratelimit-limit"
    ] != expected:
        assert time.monotonic() < deadline, f"the other process never applied limit {expected}"
        await asyncio.sleep(0.05)


async def test_another_process_applies_a_change_once_its_cache_expires(
    gql, services, second_process
):
    tenant = await create_tenant(services, "Elsewhere")
    operator = await operator_key(services)
    await _limit_seen(second_process, tenant, "50")  # the second process has cached the default
    await set_limit(gql, operator, client=tenant.client_id, requestsPerSecond=100, burst=40)
    await _limit_seen(second_process, tenant, "40")
    await gql(CLEAR, {"input": {"client": tenant.client_id}}, key=operator)
    await _limit_seen(second_process, tenant, "50")
