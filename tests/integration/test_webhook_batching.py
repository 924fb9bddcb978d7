"""Webhook records coalesce into the job a worker has not claimed yet: a busy worker finds every
delivery that arrived meanwhile in one job, an idle one gets each delivery in its own job, and
nothing is lost or shared across connections on the way."""

import asyncio

from sqlalchemy import select

from app.contracts.entities import Entity
from app.db.models import IngestJob, StagedRecord
from app.jobs.processing import claim, run_job
from app.services import Services
from app.tenancy.models import KeyMode, Principal, Scope
from app.webhooks.batching import IngestBatcher
from tests.conftest import Tenant
from tests.helpers import shopify_product


def connection_of(tenant: Tenant, connection_id: str = "whc_batching") -> Principal:
    return Principal(
        key_id=connection_id,
        client_id=tenant.client_id,
        mode=KeyMode.TEST,
        scopes=frozenset({Scope.INGEST.value}),
    )


async def deliver(batcher: IngestBatcher, sender: Principal, number: int) -> str:
    return await batcher.submit(sender, Entity.PRODUCT, None, shopify_product(number), None)


async def staged_positions(services: Services, job_id: str) -> list[int]:
    async with services.sessions() as session:
        found = await session.scalars(
            select(StagedRecord.position)
            .where(StagedRecord.job_id == job_id)
            .order_by(StagedRecord.position)
        )
        return list(found)


async def received(services: Services, job_id: str) -> int:
    async with services.sessions() as session:
        job = await session.get(IngestJob, job_id)
        assert job is not None
        return job.received


async def test_deliveries_arriving_before_a_worker_claims_the_job_join_it(services, tenant):
    batcher, sender = IngestBatcher(services), connection_of(tenant)
    first = await deliver(batcher, sender, 1)
    together = await asyncio.gather(*(deliver(batcher, sender, n) for n in range(2, 6)))
    assert set(together) == {first}
    assert await received(services, first) == 5
    assert await staged_positions(services, first) == [0, 1, 2, 3, 4]


async def test_once_a_worker_has_claimed_the_job_the_next_delivery_starts_a_new_one(
    services, tenant
):
    batcher, sender = IngestBatcher(services), connection_of(tenant)
    first = await deliver(batcher, sender, 1)
    assert await claim(services.sessions, first, services.settings) is not None
    second = await deliver(batcher, sender, 2)
    assert second != first
    assert (await received(services, first), await received(services, second)) == (1, 1)
    assert await staged_positions(services, second) == [0]


async def test_other_connections_never_join_the_job(services, tenant):
    batcher = IngestBatcher(services)
    one = await deliver(batcher, connection_of(tenant, "whc_one"), 1)
    other = await deliver(batcher, connection_of(tenant, "whc_other"), 2)
    assert one != other
    assert (await received(services, one), await received(services, other)) == (1, 1)


async def test_a_full_job_takes_no_more_records(services, tenant):
    small = Services.create(services.settings.model_copy(update={"max_records_per_call": 2}))
    batcher, sender = IngestBatcher(small), connection_of(tenant)
    try:
        jobs = [await deliver(batcher, sender, n) for n in range(3)]
    finally:
        await small.engine.dispose()
    assert jobs[0] == jobs[1] != jobs[2]
    assert await received(services, jobs[0]) == 2


async def test_every_record_of_a_coalesced_job_is_processed(services, tenant):
    batcher, sender = IngestBatcher(services), connection_of(tenant)
    jobs = {await deliver(batcher, sender, n) for n in range(4)}
    [job_id] = jobs
    await run_job(services.sessions, job_id, services.settings)
    async with services.sessions() as session:
        job = await session.get(IngestJob, job_id)
        assert job is not None
        assert (job.status, job.received, job.processed, job.written) == ("SUCCEEDED", 4, 4, 4)
