"""Rate limits per API key: token buckets shared by a key's REST and GraphQL calls, 429 with
Retry-After and RateLimit-* headers (GraphQL: `rate_limited` with the numbers in extensions),
per-client overrides, separate webhook buckets, never another tenant's bucket, and one bucket
across API processes when they share Redis."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.asgi import create_app
from app.ratelimit.buckets import InProcessBuckets, RateLimit, RedisBuckets
from app.ratelimit.service import set_client_limits
from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode
from tests.conftest import REDIS_URL, create_tenant, make_settings, require_service

BURST = 3


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    """A small bucket that refills slowly (one token every 10 s): no refill during a test."""
    return make_settings(
        database_url,
        sandbox_blob_dir=tmp_path / "blobs",
        rate_limit_burst=BURST,
        rate_limit_per_second=0.1,
        webhook_rate_limit_burst=2,
        webhook_rate_limit_per_second=0.1,
    )


def limits(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["ratelimit-limit"]),
        int(response.headers["ratelimit-remaining"]),
        int(response.headers["ratelimit-reset"]),
    )


async def test_a_key_gets_its_burst_then_429_with_retry_after(api, tenant):
    answers = [await api.get("/jobs", headers=tenant.headers) for _ in range(BURST)]
    assert [r.status_code for r in answers] == [200] * BURST
    assert [limits(r)[:2] for r in answers] == [(3, 2), (3, 1), (3, 0)]
    assert all("retry-after" not in r.headers for r in answers)
    assert limits(answers[-1])[2] == 30  # three tokens at one per 10 s

    refused = await api.post("/ingest/products", json={"records": [{}]}, headers=tenant.headers)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 10
    assert limits(refused)[:2] == (3, 0)
    error = refused.json()["error"]
    assert error["type"] == "rate_limited"
    assert error["code"] == "rate_limited"
    assert "Retry in 10 s" in error["message"]
    assert error["request_id"] == refused.headers["x-request-id"]
    assert (await api.get("/jobs", headers=tenant.headers)).status_code == 429


async def test_errors_carry_the_headers_and_anonymous_calls_take_no_token(api, tenant):
    missing = await api.get("/jobs/job_01m8zzzzzzzzzzzzzzzzzzzzzz", headers=tenant.headers)
    assert missing.status_code == 404
    assert limits(missing)[:2] == (3, 2)
    anonymous = await api.get("/jobs")
    assert anonymous.status_code == 401
    assert "ratelimit-limit" not in anonymous.headers
    assert limits(await api.get("/jobs", headers=tenant.headers))[:2] == (3, 1)


async def test_graphql_shares_the_keys_bucket_and_says_rate_limited(api, gql, tenant):
    for _ in range(BURST - 1):
        assert (await api.get("/jobs", headers=tenant.headers)).status_code == 200
    last = await gql.raw("{ viewer { mode } }", key=tenant.secret)
    assert last.status_code == 200
    assert limits(last)[:2] == (3, 0)

    refused = await gql.raw("{ viewer { mode } }", key=tenant.secret)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"
    [error] = refused.json()["errors"]
    assert error["extensions"] == {
        "code": "rate_limited",
        "limit": 3,
        "remaining": 0,
        "reset": 30,
        "retryAfter": 10,
    }
    assert "data" not in refused.json()
    # Anonymous GraphQL (the sandbox explorer's schema fetch) takes no key's token.
    assert (await gql.raw("{ __typename }")).status_code == 200


async def test_limits_never_count_the_wrong_tenant(api, services, tenant):
    other = await create_tenant(services, "Other")
    async with services.sessions() as session, session.begin():
        live = await tenancy.create_key(session, tenant.client_id, KeyMode.LIVE)
    for _ in range(BURST):
        await api.get("/jobs", headers=tenant.headers)
    assert (await api.get("/jobs", headers=tenant.headers)).status_code == 429

    theirs = await api.get("/jobs", headers=other.headers)
    assert theirs.status_code == 200
    assert limits(theirs)[:2] == (3, 2)
    live_answer = await api.get("/jobs", headers={"Authorization": f"Bearer {live.secret}"})
    assert live_answer.status_code == 200
    assert limits(live_answer)[:2] == (3, 2)


async def test_a_client_can_have_its_own_limits(api, services, tenant):
    other = await create_tenant(services, "Other")
    async with services.sessions() as session, session.begin():
        await set_client_limits(session, tenant.client_id, api=RateLimit(10, 5.0))
    services.rate_limiter.forget(tenant.client_id)
    own = await api.get("/jobs", headers=tenant.headers)
    assert limits(own) == (10, 9, 1)
    assert limits(await api.get("/jobs", headers=other.headers))[:2] == (3, 2)

    async with services.sessions() as session, session.begin():
        await set_client_limits(session, tenant.client_id)  # back to the defaults
    services.rate_limiter.forget(tenant.client_id)
    assert limits(await api.get("/jobs", headers=tenant.headers))[0] == 3


async def test_webhook_traffic_has_buckets_of_its_own(api, services, tenant):
    for _ in range(BURST + 1):
        await api.get("/jobs", headers=tenant.headers)
    limiter = services.rate_limiter
    taken = [await limiter.take_webhook("whc_shop", tenant.client_id) for _ in range(3)]
    assert [d.allowed for d in taken if d] == [True, True, False]
    assert taken[0] is not None and taken[0].limit == 2
    assert taken[2] is not None and taken[2].retry_after_seconds == 10
    # Another connection (of this client or another) has its own bucket.
    for sender in ("whc_hubspot", "whc_other_client"):
        decision = await limiter.take_webhook(sender)
        assert decision is not None and decision.allowed
    # The client's own webhook limits apply to its connections.
    async with services.sessions() as session, session.begin():
        await set_client_limits(session, tenant.client_id, webhook=RateLimit(50, 10.0))
    services.rate_limiter.forget(tenant.client_id)
    own = await limiter.take_webhook("whc_woo", tenant.client_id)
    assert own is not None and own.allowed and own.limit == 50
    assert (await api.get("/jobs", headers=tenant.headers)).status_code == 429


async def test_buckets_refill_over_time():
    buckets = InProcessBuckets()
    limit = RateLimit(capacity=1, per_second=50)
    assert (await buckets.take("k", limit)).allowed
    refused = await buckets.take("k", limit)
    assert not refused.allowed and refused.retry_after_seconds == 1
    await asyncio.sleep(0.05)
    assert (await buckets.take("k", limit)).allowed


async def test_redis_buckets_refill_over_time():
    buckets = RedisBuckets(require_service(REDIS_URL, "redis"))
    key, limit = f"test:{uuid.uuid4().hex}", RateLimit(capacity=2, per_second=50)
    try:
        decisions = [await buckets.take(key, limit) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert [d.remaining for d in decisions] == [1, 0, 0]
        await asyncio.sleep(0.05)
        assert (await buckets.take(key, limit)).allowed
    finally:
        await buckets.close()


@pytest.fixture
async def two_processes(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two API apps with their own Services (as two processes have), sharing Redis."""
    shared = settings.model_copy(
        update={"redis_url": require_service(REDIS_URL, "redis"), "arq_queue_name": "gw:rl:test"}
    )
    all_services = [Services.create(shared) for _ in range(2)]
    clients = []
    for services in all_services:
        await services.start()
        transport = httpx.ASGITransport(app=create_app(shared, services))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://gateway.test"))
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for services in all_services:
            await services.stop()


@pytest.mark.redis
async def test_two_api_processes_sharing_redis_share_one_bucket(two_processes, services, tenant):
    first, second = two_processes
    other = await create_tenant(services, "Other")
    answers = [
        await (first if n % 2 == 0 else second).get("/jobs", headers=tenant.headers)
        for n in range(BURST + 1)
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [limits(r)[1] for r in answers] == [2, 1, 0, 0]
    assert (await first.get("/jobs", headers=tenant.headers)).status_code == 429
    assert (await second.get("/jobs", headers=other.headers)).status_code == 200
