"""The AMS sync in the scale-out shape: PostgreSQL, arq workers on the real Redis, pacing shared
through Redis. The API process enqueues the job; the worker processes it, then syncs the AMS."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.asyncio import Redis

from app.jobs.dispatch import SYNC_AMS_TASK
from app.jobs.processing import run_job
from app.services import Services
from app.settings import Settings
from tests.conftest import REDIS_URL, GraphQL, create_tenant, make_settings, require_service
from tests.helpers import shopify_product
from tests.integration.test_ams_sync import (
    Gateway,
    airtable_rows,
    ams_settings,
    base_of,
    entity_sync,
    push,
    serve,
    viewer,
)
from workers.arq_worker import worker_settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def scale_out(postgres_database: str) -> AsyncIterator[Settings]:
    from tests.conftest import _truncate_all

    redis_url = require_service(REDIS_URL, "redis")
    await _truncate_all(postgres_database)
    queue = f"gateway:test:{uuid.uuid4().hex[:8]}"
    yield ams_settings(
        make_settings(
            postgres_database,
            redis_url=redis_url,
            arq_queue_name=queue,
            sandbox_airtable_requests_per_second=1000.0,
        )
    )
    redis = Redis.from_url(redis_url)
    await redis.delete(queue, f"{queue}:health-check")
    await redis.aclose()


@pytest.fixture
async def gateway(scale_out: Settings) -> AsyncIterator[Gateway]:
    served = serve(scale_out)
    url, server_settings, traffic = next(served)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield Gateway(url, server_settings, traffic, GraphQL(client))
    finally:
        next(served, None)


@pytest.fixture
async def services(gateway: Gateway) -> AsyncIterator[Services]:
    services = Services.create(gateway.settings)
    yield services
    await services.engine.dispose()


async def burst_worker(settings: Settings) -> None:
    worker = Worker(**worker_settings(settings, burst=True, poll_delay=0.05))
    try:
        await worker.main()
    finally:
        await worker.close()


async def _queue(settings: Settings) -> ArqRedis:
    return await create_pool(
        RedisSettings.from_dsn(str(settings.redis_url)),
        default_queue_name=settings.arq_queue_name,
    )


async def test_an_arq_worker_processes_the_push_then_provisions_and_writes_the_ams(
    gateway, services
):
    acme = await create_tenant(services, "Acme", "test")
    catalog = [shopify_product(n) for n in range(30)]
    await push(gateway, acme, catalog)

    await burst_worker(gateway.settings)  # the job, then the sync it enqueues

    view = await viewer(gateway, acme)
    assert view["onboarding"]["status"] == "PRODUCTION_READY"
    assert entity_sync(view)["written"] == 30
    assert len(gateway.traffic.writes()) == 3
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(view))
    assert len(rows) == len({row["External ID"] for row in rows}) == 30


async def test_a_lost_sync_message_is_recovered_by_the_sweeper(gateway, services):
    acme = await create_tenant(services, "Acme", "test")
    job_id = await push(gateway, acme, [shopify_product(n) for n in range(5)])
    redis = Redis.from_url(str(gateway.settings.redis_url))
    await redis.delete(gateway.settings.arq_queue_name)  # the job's message is gone
    await redis.aclose()
    await run_job(services.sessions, job_id, gateway.settings)  # marks the sync due, enqueues none

    await burst_worker(gateway.settings)  # its start-up sweep finds the due sync

    view = await viewer(gateway, acme)
    assert entity_sync(view)["written"] == 5
    assert view["onboarding"]["status"] == "PRODUCTION_READY"


async def test_two_workers_running_one_tenants_sync_write_each_record_once(gateway, services):
    acme = await create_tenant(services, "Acme", "test")
    job_id = await push(gateway, acme, [shopify_product(n) for n in range(40)])
    redis = Redis.from_url(str(gateway.settings.redis_url))
    await redis.delete(gateway.settings.arq_queue_name)
    await redis.aclose()
    await run_job(services.sessions, job_id, gateway.settings)
    queue = await _queue(gateway.settings)
    for _ in range(2):  # the same sync asked for twice, e.g. a redispatch while it runs
        await queue.enqueue_job(SYNC_AMS_TASK, acme.client_id, False, "product")
    await queue.aclose()

    workers: list[Any] = [burst_worker(gateway.settings) for _ in range(2)]
    await asyncio.gather(*workers)

    assert len([w for w in gateway.traffic.writes() if w.status == 200]) == 4
    view = await viewer(gateway, acme)
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(view))
    assert len(rows) == len({row["External ID"] for row in rows}) == 40


async def test_the_worker_that_finishes_a_job_runs_its_sync_without_queueing_it(gateway, services):
    acme = await create_tenant(services, "Acme", "test")
    job_id = await push(gateway, acme, [shopify_product(n) for n in range(12)])

    await burst_worker(gateway.settings)

    queue = await _queue(gateway.settings)
    try:
        results = await queue.all_job_results()  # of every queue on this Redis
    finally:
        await queue.aclose()
    ran = sorted(r.function for r in results if job_id in r.args or acme.client_id in r.args)
    assert ran == ["process_job"]  # no second trip through the queue (and its poll delay)
    view = await viewer(gateway, acme)
    assert entity_sync(view)["written"] == 12
    rows = await asyncio.to_thread(airtable_rows, gateway, acme, base_of(view))
    assert len(rows) == 12
