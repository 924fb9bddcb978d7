"""Two API processes behind one load balancer share Redis: a webhook redelivered to the other
process is still recognised as a duplicate, even when both copies arrive at the same moment."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from app.asgi import create_app
from app.db.models import IngestJob
from app.services import Services
from app.settings import Settings
from tests.conftest import GraphQL, create_tenant
from tests.integration.test_scale_out import redis_url, scale_out_settings  # noqa: F401
from tests.integration.test_webhooks import (
    SHOPIFY_SECRET,
    connect,
    path_of,
    shirt_body,
    shopify_headers,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def two_processes(
    scale_out_settings: Settings,  # noqa: F811
) -> AsyncIterator[tuple[Services, httpx.AsyncClient, httpx.AsyncClient]]:
    apps, clients = [], []
    for _ in range(2):
        services = Services.create(scale_out_settings)
        app = create_app(scale_out_settings, services)
        await services.start()
        apps.append((app, services))
        transport = httpx.ASGITransport(app=app)
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://gateway.test"))
    try:
        yield apps[0][1], clients[0], clients[1]
    finally:
        for client in clients:
            await client.aclose()
        for _, services in apps:
            await services.stop()


async def job_count(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(IngestJob)) or 0)


async def records_received(services: Services) -> int:
    """Records taken into jobs (deliveries arriving before a worker claims a job join it)."""
    async with services.sessions() as session:
        return int(await session.scalar(select(func.sum(IngestJob.received))) or 0)


async def test_a_redelivery_to_the_other_process_is_a_duplicate(two_processes):
    services, first, second = two_processes
    tenant = await create_tenant(services)
    connection = await connect(GraphQL(first), tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    headers = shopify_headers(body, event_id="evt-scale-1")
    accepted = await first.post(path_of(connection), content=body, headers=headers)
    again = await second.post(path_of(connection), content=body, headers=headers)
    assert (accepted.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"
    assert await job_count(services) == 1
    redis = Redis.from_url(services.settings.redis_url)
    try:
        [key] = await redis.keys(f"gateway:webhooks:seen:{connection['id']}:*")
        assert await redis.ttl(key) > 71 * 3600  # remembered for the 72-hour window
    finally:
        await redis.aclose()


async def test_simultaneous_copies_on_two_processes_are_taken_once(two_processes):
    services, first, second = two_processes
    tenant = await create_tenant(services)
    connection = await connect(GraphQL(first), tenant, "shopify", SHOPIFY_SECRET)
    for number in range(10):
        body = json.dumps({"id": 9000 + number}).encode()
        headers = shopify_headers(body, topic="products/update", event_id=f"evt-race-{number}")
        answers = await asyncio.gather(
            first.post(path_of(connection), content=body, headers=headers),
            second.post(path_of(connection), content=body, headers=headers),
        )
        assert sorted(answer.status_code for answer in answers) == [200, 202]
    assert await records_received(services) == 10
