"""The database is the source of truth: a dead worker or a lost message loses nothing, and
processing a job twice changes nothing."""

import asyncio

from sqlalchemy import func, select

from app.contracts.entities import Entity
from app.db.models import CanonicalRecord, IngestJob, RecordError
from app.ingest.service import IngestRequest, submit_ingest
from app.jobs.models import Door, JobStatus
from app.jobs.processing import claim, read_chunk, run_job, store_chunk, validate_chunk
from app.jobs.sweeper import due_job_ids
from app.services import Services
from app.tenancy.models import KeyMode, Principal
from tests.conftest import make_settings
from tests.helpers import shopify_product


class NoDispatch:
    """Stands in for a queue whose messages were lost."""

    async def start(self): ...
    async def stop(self): ...
    async def dispatch(self, job_ids): ...


def _records(count, invalid_every=10):
    return [
        shopify_product(n) if n % invalid_every else shopify_product(n, price={"amount": 1})
        for n in range(count)
    ]


async def _submit(services, tenant, records):
    principal = Principal(tenant.key_id, tenant.client_id, KeyMode.TEST)
    request = IngestRequest(Entity.PRODUCT, records, None, Door.GRAPHQL)
    return (await submit_ingest(services, principal, request)).job.id


async def _job(services, job_id):
    async with services.sessions() as session:
        return await session.get(IngestJob, job_id)


async def _count(services, model, **where):
    async with services.sessions() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return await session.scalar(query)


async def test_a_worker_that_dies_mid_job_is_resumed_without_duplicates(database_url, tenant):
    settings = make_settings(
        database_url, job_chunk_size=100, job_lease_seconds=0.3, job_redispatch_after_seconds=0.1
    )
    services = Services(settings, *_parts(database_url, settings))
    job_id = await _submit(services, tenant, _records(1000))

    # Worker one claims the job, commits two chunks, then dies without a word.
    lease = await claim(services.sessions, job_id, settings)
    for position in (0, 100):
        staged = await read_chunk(services.sessions, lease, position, settings)
        async with services.sessions() as session, session.begin():
            await store_chunk(
                session, lease, validate_chunk(lease, staged), position + 100, settings
            )
    dead = await _job(services, job_id)
    assert (dead.status, dead.processed) == (JobStatus.PROCESSING.value, 200)
    assert await run_job(services.sessions, job_id, settings) is None  # still leased

    await asyncio.sleep(0.4)  # the lease expires
    assert job_id in await due_job_ids(services.sessions, settings)
    assert await run_job(services.sessions, job_id, settings) is JobStatus.PARTIALLY_SUCCEEDED

    job = await _job(services, job_id)
    assert (job.received, job.valid, job.quarantined, job.written) == (1000, 900, 100, 900)
    assert job.attempts == 2
    assert await _count(services, CanonicalRecord, client_id=tenant.client_id) == 900
    # Two errors per invalid record (amount is a number, currency is missing), none repeated.
    assert await _count(services, RecordError, job_id=job_id) == 200
    await services.engine.dispose()


async def test_running_a_finished_job_again_changes_nothing(database_url, tenant):
    settings = make_settings(database_url)
    services = Services(settings, *_parts(database_url, settings))
    job_id = await _submit(services, tenant, _records(300))
    assert await run_job(services.sessions, job_id, settings) is JobStatus.PARTIALLY_SUCCEEDED
    before = await _job(services, job_id)
    assert await run_job(services.sessions, job_id, settings) is None
    after = await _job(services, job_id)
    assert (after.written, after.quarantined, after.attempts) == (
        before.written,
        before.quarantined,
        before.attempts,
    )
    await services.engine.dispose()


async def test_a_lost_queue_message_is_recovered_by_the_sweeper(database_url, tenant):
    settings = make_settings(database_url, job_redispatch_after_seconds=0.2)
    services = Services(settings, *_parts(database_url, settings))
    job_id = await _submit(services, tenant, _records(50))
    assert job_id not in await due_job_ids(services.sessions, settings)  # not yet overdue
    await asyncio.sleep(0.3)
    assert await due_job_ids(services.sessions, settings) == [job_id]
    assert await due_job_ids(services.sessions, settings) == []  # re-dispatched once per window
    assert await run_job(services.sessions, job_id, settings) is JobStatus.PARTIALLY_SUCCEEDED
    await services.engine.dispose()


async def test_the_in_process_sweeper_finishes_jobs_nobody_dispatched(database_url, tenant):
    settings = make_settings(
        database_url, sweeper_interval_seconds=0.1, job_redispatch_after_seconds=0.1
    )
    services = Services.create(settings)
    job_id = await _submit(services, tenant, _records(20))  # dispatcher not started: message lost
    await services.start()
    try:
        for _ in range(100):
            if (await _job(services, job_id)).status != JobStatus.QUEUED.value:
                break
            await asyncio.sleep(0.05)
        await services.dispatcher.join()  # type: ignore[attr-defined]
    finally:
        await services.stop()
    job = await _job(services, job_id)
    assert job.status == JobStatus.PARTIALLY_SUCCEEDED.value


def _parts(database_url, settings):
    from app.db.engine import create_engine, create_session_factory

    engine = create_engine(database_url)
    return engine, create_session_factory(engine), NoDispatch()


async def test_a_job_that_kills_its_worker_every_time_is_failed_visibly(database_url, tenant):
    settings = make_settings(
        database_url, job_max_attempts=2, job_lease_seconds=0.1, job_redispatch_after_seconds=0.05
    )
    services = Services(settings, *_parts(database_url, settings))
    job_id = await _submit(services, tenant, _records(10))
    for _ in range(2):  # each worker claims it and dies
        assert await claim(services.sessions, job_id, settings) is not None
        await asyncio.sleep(0.15)
    assert await claim(services.sessions, job_id, settings) is None  # attempts are used up
    assert await due_job_ids(services.sessions, settings) == []
    job = await _job(services, job_id)
    assert job.status == JobStatus.FAILED.value
    assert "stopped 2 times" in job.failure_reason
    assert job.finished_at is not None
    await services.engine.dispose()
