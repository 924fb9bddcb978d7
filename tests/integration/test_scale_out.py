"""The scale-out shape: PostgreSQL, arq on the real Redis, `gateway worker` processes."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from app.db.models import CanonicalRecord, IngestJob
from app.services import Services
from app.settings import Settings
from tests.conftest import REDIS_URL, GraphQL, create_tenant, require_service
from tests.helpers import (
    JOB_QUERY,
    api_process,
    arq_settings,
    burst_worker,
    ingest_mutation,
    shopify_product,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def redis_url() -> str:
    return require_service(REDIS_URL, "redis")


@pytest.fixture
async def scale_out_settings(postgres_database: str, redis_url: str) -> AsyncIterator[Settings]:
    from tests.conftest import _truncate_all

    await _truncate_all(postgres_database)
    async with arq_settings(
        postgres_database,
        redis_url,
        sweeper_interval_seconds=1,
        job_redispatch_after_seconds=0.5,
        job_lease_seconds=2,
        job_chunk_size=200,
    ) as settings:
        yield settings


@pytest.fixture
async def scale_out_api(scale_out_settings: Settings) -> AsyncIterator[tuple[Services, GraphQL]]:
    async with api_process(scale_out_settings) as api:
        yield api


async def test_jobs_travel_through_redis_to_an_arq_worker(scale_out_api, scale_out_settings):
    services, gql = scale_out_api
    tenant = await create_tenant(services)
    records = [shopify_product(n) for n in range(500)] + [{"external_id": "broken"}]
    data = await gql(ingest_mutation("product"), {"input": {"records": records}}, key=tenant.secret)
    job_id = data["ingestProducts"]["job"]["id"]
    assert data["ingestProducts"]["job"]["status"] == "QUEUED"

    await burst_worker(scale_out_settings)

    job = (await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"]
    assert job["status"] == "PARTIALLY_SUCCEEDED"
    assert job["counters"]["written"] == 500
    assert job["counters"]["quarantined"] == 1


async def test_a_job_whose_redis_message_was_lost_is_swept_back(scale_out_api, scale_out_settings):
    services, gql = scale_out_api
    tenant = await create_tenant(services)
    data = await gql(
        ingest_mutation("product"), {"input": {"records": [shopify_product(1)]}}, key=tenant.secret
    )
    job_id = data["ingestProducts"]["job"]["id"]
    redis = Redis.from_url(scale_out_settings.redis_url)
    await redis.delete(scale_out_settings.arq_queue_name)  # Redis lost the message
    await redis.aclose()
    await asyncio.sleep(scale_out_settings.job_redispatch_after_seconds + 0.1)

    await burst_worker(scale_out_settings)  # its sweep runs at start-up
    await burst_worker(scale_out_settings)  # and this one runs what the sweep re-queued

    job = (await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"]
    assert job["status"] == "SUCCEEDED"


def _worker_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_REDIS_URL": str(settings.redis_url),
        "GATEWAY_ARQ_QUEUE_NAME": settings.arq_queue_name,
        "GATEWAY_JOB_CHUNK_SIZE": str(settings.job_chunk_size),
        "GATEWAY_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "GATEWAY_JOB_REDISPATCH_AFTER_SECONDS": str(settings.job_redispatch_after_seconds),
        "GATEWAY_SWEEPER_INTERVAL_SECONDS": str(settings.sweeper_interval_seconds),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _job_row(services: Services, job_id: str) -> IngestJob:
    async with services.sessions() as session:
        job = await session.get(IngestJob, job_id)
        assert job is not None
        return job


async def _wait_for(services: Services, job_id: str, done: Any, within: float) -> IngestJob:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = await _job_row(services, job_id)
        if done(job):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} did not get there in {within}s: {job.status}")


async def test_kill_9_of_a_worker_mid_job_loses_and_duplicates_nothing(
    scale_out_api, scale_out_settings
):
    services, gql = scale_out_api
    tenant = await create_tenant(services)
    records = [shopify_product(n) for n in range(4000)]
    data = await gql(ingest_mutation("product"), {"input": {"records": records}}, key=tenant.secret)
    job_id = data["ingestProducts"]["job"]["id"]

    first = _worker_process(scale_out_settings)
    try:
        await _wait_for(services, job_id, lambda job: job.processed > 0, within=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    killed = await _job_row(services, job_id)
    assert killed.status == "PROCESSING"
    assert killed.processed < 4000, "the worker finished before it could be killed"

    second = _worker_process(scale_out_settings)
    try:
        job = await _wait_for(services, job_id, lambda job: job.finished_at is not None, within=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    assert job.status == "SUCCEEDED"
    assert (job.received, job.valid, job.written, job.unchanged) == (4000, 4000, 4000, 0)
    assert job.attempts == 2
    async with services.sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(CanonicalRecord)
            .where(CanonicalRecord.client_id == tenant.client_id)
        )
    assert stored == 4000
