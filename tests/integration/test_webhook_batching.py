"""Webhook records coalesce into the job a worker has not claimed yet: a busy worker finds every
delivery that arrived meanwhile in one job, an idle one gets each delivery in its own job, and
nothing is lost or shared across connections on the way."""

import asyncio

import pytest
from sqlalchemy import select

from app.contracts.entities import Entity
from app.db.models import IngestJob, StagedRecord
from app.jobs.processing import claim, run_job
from app.services import Services
from app.tenancy.models import KeyMode, Principal, Scope
from app.webhooks.batching import IngestBatcher
from tests.conftest import Tenant, create_tenant
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


async def test_a_job_of_another_tenant_is_never_joined(services, tenant):
    """Even under the same batch key, the append is scoped to the batch's own tenant."""
    batcher = IngestBatcher(services)
    other = await create_tenant(services, "Other")
    mine = await deliver(batcher, connection_of(tenant, "whc_shared"), 1)
    theirs = await deliver(batcher, connection_of(other, "whc_shared"), 2)
    assert mine != theirs
    assert (await received(services, mine), await received(services, theirs)) == (1, 1)
    async with services.sessions() as session:
        job = await session.get(IngestJob, theirs)
        assert job is not None and job.client_id == other.client_id


async def test_a_failed_batch_fails_its_deliveries_and_the_next_batch_is_written(services, tenant):
    batcher, sender = IngestBatcher(services), connection_of(tenant)
    first = await deliver(batcher, sender, 1)
    unserialisable = {"id": 2, "tags": {"a set"}}  # orjson refuses it: the batch fails
    with pytest.raises(TypeError):
        await batcher.submit(sender, Entity.PRODUCT, None, unserialisable, None)
    later = await deliver(batcher, sender, 3)
    assert await staged_positions(services, first) == [0]  # nothing of the failed batch
    assert sum([await received(services, job_id) for job_id in {first, later}]) == 2


async def test_people_joining_a_job_keep_the_email_and_id_erasure_finds_them_by(services, tenant):
    batcher, sender = IngestBatcher(services), connection_of(tenant)

    def person(number: int) -> dict[str, str]:
        return {"id": f"cus-{number}", "email": f"Person{number}@Example.com"}

    first = await batcher.submit(sender, Entity.AUDIENCE, None, person(1), None)
    joined = await batcher.submit(sender, Entity.AUDIENCE, None, person(2), None)
    assert joined == first
    async with services.sessions() as session:
        rows = await session.execute(
            select(StagedRecord.subject_email, StagedRecord.subject_external_id)
            .where(StagedRecord.job_id == first)
            .order_by(StagedRecord.position)
        )
    assert [tuple(row) for row in rows] == [
        ("person1@example.com", "cus-1"),
        ("person2@example.com", "cus-2"),
    ]
