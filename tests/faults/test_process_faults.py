"""Processes and services failing under load: a worker killed with -9 in the middle of its
batches, Redis restarted empty (its queued job ids lost), PostgreSQL dropping every connection.
Each time the sweeper and the leases bring the work back, and the AMS ends up holding exactly the
pushed records, each once, with their fields."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select

from app.ams.models import AmsSyncRecord
from app.db.models import IngestJob
from app.services import Services
from deploy.local.topology import Topology
from tests.conftest import Tenant
from tests.faults.conftest import (
    RedisServer,
    ams_rows,
    assert_exactly,
    base_id,
    push,
    wait_until_synced,
)
from tests.helpers import shopify_product

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def synced_count(services: Services, tenant: Tenant) -> int:
    async with services.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(AmsSyncRecord)
            .where(
                AmsSyncRecord.client_id == tenant.client_id,
                AmsSyncRecord.airtable_record_id.is_not(None),
            )
        )
    return int(found or 0)


async def jobs_finished(services: Services, tenant: Tenant) -> tuple[int, int]:
    async with services.sessions() as session:
        rows = (
            await session.execute(
                select(IngestJob.status, IngestJob.written).where(
                    IngestJob.client_id == tenant.client_id
                )
            )
        ).all()
    return sum(1 for status, _ in rows if status == "SUCCEEDED"), len(rows)


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {within}s")
        await asyncio.sleep(0.05)


async def pushed_in_jobs(topology: Topology, tenant: Tenant, total: int, per_job: int) -> list[Any]:
    """`total` products in jobs of `per_job`, alternating between the two API processes."""
    catalog = [shopify_product(n) for n in range(total)]
    pushes = [
        push(topology.api_urls[n % 2], tenant, catalog[start : start + per_job])
        for n, start in enumerate(range(0, total, per_job))
    ]
    await asyncio.gather(*pushes)
    return catalog


async def assert_ams_holds(
    topology: Topology, services: Services, tenant: Tenant, catalog: list[Any]
) -> None:
    await wait_until_synced(services, tenant, len(catalog), within=150)
    succeeded, jobs = await jobs_finished(services, tenant)
    assert succeeded == jobs, f"{jobs - succeeded} of {jobs} jobs did not succeed"
    base = await base_id(services, tenant)
    assert base is not None
    rows = await asyncio.to_thread(ams_rows, topology, tenant, base)
    assert_exactly(rows, catalog)


async def test_kill_9_of_the_workers_mid_batch_loses_and_duplicates_nothing(
    topology, services, tenant
):
    catalog = await pushed_in_jobs(topology, tenant, 2000, 500)
    await until(
        lambda: _between(synced_count(services, tenant), 1, 1700), 120, "the sync under way"
    )

    for worker in topology.workers:  # whichever holds the sync lease dies with its batches
        worker.kill()
    killed_at = await synced_count(services, tenant)
    assert killed_at < 2000, "the sync finished before the workers could be killed"
    for worker in topology.workers:
        worker.start()

    await assert_ams_holds(topology, services, tenant, catalog)


async def test_redis_restarted_empty_mid_run_loses_no_job_and_no_record(
    topology, services, tenant, redis_server: RedisServer
):
    catalog = await pushed_in_jobs(topology, tenant, 2000, 500)
    await until(lambda: _between(synced_count(services, tenant), 1, 1700), 120, "work under way")

    redis_server.stop()  # every queued job id and sync message is gone
    await asyncio.sleep(0.5)
    redis_server.start()
    await asyncio.sleep(2)
    for worker in topology.workers:  # a supervisor restarts a worker that lost Redis
        if not worker.alive():
            worker.start()

    await assert_ams_holds(topology, services, tenant, catalog)


async def test_postgresql_dropping_every_connection_mid_run_loses_nothing(
    topology, services, tenant
):
    catalog = await pushed_in_jobs(topology, tenant, 2000, 500)
    await until(lambda: _between(synced_count(services, tenant), 1, 1700), 120, "work under way")

    database = topology.database_url.rsplit("/", 1)[1]
    for _ in range(3):  # three waves of dropped connections, a second apart
        await terminate_backends(topology.database_url, database)
        await asyncio.sleep(1)
    for process in [*topology.workers, *topology.api_processes]:
        assert process.alive(), f"{process.name} died when its connections dropped"

    await assert_ams_holds(topology, services, tenant, catalog)


async def terminate_backends(url: str, database: str) -> int:
    admin = url.rsplit("/", 1)[0].replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    connection = await asyncpg.connect(admin)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return len(rows)


async def _between(count: Awaitable[int], low: int, high: int) -> bool:
    return low <= await count <= high
