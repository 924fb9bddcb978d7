"""API processes stopping under load: one killed with -9 in the middle of a partner's request
(the partner retries on the other process with the same idempotency key and gets one job), and
SIGTERM to an API process and to the workers (in-flight requests are answered, running jobs
drain, and nothing is lost)."""

import asyncio
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from app.db.models import IngestJob
from app.services import Services
from tests.conftest import Tenant
from tests.faults.conftest import push
from tests.faults.test_process_faults import _between, assert_ams_holds, synced_count, until
from tests.helpers import ingest_mutation, shopify_product

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def jobs_with_key(services: Services, tenant: Tenant, key: str) -> list[str]:
    async with services.sessions() as session:
        found = await session.scalars(
            select(IngestJob.id).where(
                IngestJob.client_id == tenant.client_id, IngestJob.idempotency_key == key
            )
        )
        return list(found)


async def _push_held_before_its_last_byte(
    url: str, tenant: Tenant, records: list[Any], key: str, killed: asyncio.Event
) -> httpx.Response:
    """A partner's GraphQL ingest whose body stops one byte short until `killed` is set: the
    process is then certainly in the middle of the request, however fast it is."""
    variables = {"input": {"records": records, "idempotencyKey": key}}
    body = orjson.dumps({"query": ingest_mutation("product"), "variables": variables})

    async def held() -> AsyncIterator[bytes]:
        yield body[:-1]
        await killed.wait()
        yield body[-1:]

    headers = {**tenant.headers, "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return await client.post("/graphql", content=held(), headers=headers)


async def test_an_api_killed_mid_request_then_the_partners_retry_makes_one_job(
    topology, services, tenant
):
    catalog = [shopify_product(n) for n in range(3000)]
    key = "catalog-2026-11-26"
    victim, killed = topology.api_processes[1], asyncio.Event()
    first = asyncio.create_task(
        _push_held_before_its_last_byte(victim.url, tenant, catalog, key, killed)
    )
    await asyncio.sleep(0.2)
    assert not first.done(), "the request ended before the kill"
    victim.kill()
    killed.set()
    (cut,) = await asyncio.gather(first, return_exceptions=True)
    assert isinstance(cut, httpx.TransportError), f"the request was cut, not answered: {cut!r}"

    job_id = await push(topology.api_urls[0], tenant, catalog, idempotency_key=key)
    again = await push(topology.api_urls[0], tenant, catalog, idempotency_key=key)

    assert again == job_id
    assert await jobs_with_key(services, tenant, key) == [job_id]
    await assert_ams_holds(topology, services, tenant, catalog)


async def test_sigterm_drains_in_flight_requests_and_running_jobs(topology, services, tenant):
    catalog = [shopify_product(n) for n in range(2000)]
    api = topology.api_processes[1]
    first = asyncio.create_task(push(api.url, tenant, catalog[:1000]))
    await asyncio.sleep(0.2)
    api.signal(signal.SIGTERM)
    await first  # answered, not cut: the job exists
    exited = await asyncio.to_thread(api.wait, 30)
    assert exited in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
    await push(topology.api_urls[0], tenant, catalog[1000:])

    await until(lambda: _between(synced_count(services, tenant), 1, 1700), 120, "sync under way")
    logged = [len(worker.log_text()) for worker in topology.workers]
    for worker in topology.workers:
        worker.signal(signal.SIGTERM)
    for worker, before in zip(topology.workers, logged, strict=True):
        assert await asyncio.to_thread(worker.wait, 40) == 0, f"{worker.name} did not drain"
        assert "Traceback" not in worker.log_text()[before:]
    for worker in topology.workers:
        worker.start()

    await assert_ams_holds(topology, services, tenant, catalog)
