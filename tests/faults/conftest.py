"""The fault-injection suite's own services: a PostgreSQL database `faults_<random>` on the test
server (dropped after) and a private redis-server on a free port (so a test may kill and restart
it without touching the Redis other tests use). The gateway runs as the local scale-out topology
(deploy/local/topology.py): two API processes and two `gateway worker` processes."""

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyairtable import Api
from sqlalchemy import select

from app.ams.models import AmsSyncState
from app.integrations.sandbox_tokens import sandbox_token
from app.services import Services
from app.settings import Settings
from deploy.local.scratch import RedisServer, create_database, drop_database
from deploy.local.topology import Topology, free_port, wait_healthy
from tests.conftest import POSTGRES_URL, Tenant, create_tenant, require_service
from tests.helpers import ingest_mutation

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# Fast clocks for every process: quick redispatch, short leases, small back-offs.
FAST_ENV = {
    "GATEWAY_AMS_AIRTABLE_REQUESTS_PER_SECOND": "1000",
    "GATEWAY_SANDBOX_AIRTABLE_REQUESTS_PER_SECOND": "1000",
    "GATEWAY_AMS_AIRTABLE_PENALTY_SECONDS": "0.2",
    "GATEWAY_SANDBOX_AIRTABLE_PENALTY_SECONDS": "0.2",
    "GATEWAY_AMS_SYNC_REDISPATCH_AFTER_SECONDS": "1",
    "GATEWAY_AMS_SYNC_LEASE_SECONDS": "5",
    "GATEWAY_JOB_REDISPATCH_AFTER_SECONDS": "1",
    "GATEWAY_JOB_LEASE_SECONDS": "3",
    "GATEWAY_JOB_CHUNK_SIZE": "250",
    "GATEWAY_SWEEPER_INTERVAL_SECONDS": "1",
    "GATEWAY_RATE_LIMIT_ENABLED": "false",
    "GATEWAY_KEY_CACHE_SECONDS": "0",
    "GATEWAY_SANDBOX_AIRTABLE_FAULT_ADMIN": "true",
    # Airtable resilience: bursts open a circuit within seconds, cool-downs are short
    "GATEWAY_AMS_CIRCUIT_FAILURE_THRESHOLD": "4",
    "GATEWAY_AMS_CIRCUIT_COOLDOWN_SECONDS": "0.3",
    "GATEWAY_AMS_RETRY_INITIAL_SECONDS": "0.05",
    "GATEWAY_AMS_RETRY_MAX_SECONDS": "0.4",
    "GATEWAY_AMS_WRITE_ATTEMPTS": "3",
    "GATEWAY_AMS_AIRTABLE_TIMEOUT_SECONDS": "1",
    "GATEWAY_SANDBOX_AIRTABLE_FAULT_TIMEOUT_SECONDS": "1.5",
}
SECRET = "fault-suite-secret-key"
LOG_ROOT = Path(tempfile.gettempdir()) / "gateway-faults"  # each process's log, per test


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        require_service(None, "redis")  # fails when services are required, else skips
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A fresh `faults_<random>` database (the topology migrates it), dropped after the run."""
    url = create_database(require_service(POSTGRES_URL, "postgres"), "faults")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def running_topology(database: str, redis_server: RedisServer) -> Iterator[Topology]:
    """One topology for the whole suite (starting one costs ~15 s on this machine); every test
    has its own client, and gets every process back alive (see `topology`)."""
    shutil.rmtree(LOG_ROOT, ignore_errors=True)  # kept after the run: pytest prunes tmp dirs
    with Topology(
        database, redis_server.url, env=FAST_ENV, secret_key=SECRET, log_dir=LOG_ROOT
    ) as running:
        yield running


@pytest.fixture
def topology(running_topology: Topology) -> Iterator[Topology]:
    yield running_topology
    for process in [*running_topology.api_processes, *running_topology.workers]:
        if not process.alive():  # a test killed it: a supervisor would start it again
            process.start()
    for api in running_topology.api_processes:
        wait_healthy(api)


@pytest.fixture
async def services(topology: Topology) -> AsyncIterator[Services]:
    """The test's own view of the database (tenants, sync state), beside the topology."""
    services = Services.create(Settings(database_url=topology.database_url, secret_key=SECRET))
    yield services
    await services.engine.dispose()


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    return await create_tenant(services, "Fault Test Outdoor", "test")


async def push(
    url: str, tenant: Tenant, records: list[dict[str, Any]], idempotency_key: str | None = None
) -> str:
    """One GraphQL ingest of products, as a partner sends it; returns the job id."""
    variables = {"input": {"records": records, "idempotencyKey": idempotency_key}}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        answer = await client.post(
            "/graphql",
            json={"query": ingest_mutation("product"), "variables": variables},
            headers=tenant.headers,
        )
    data = answer.json()
    assert answer.status_code == 200, data
    payload = data["data"]["ingestProducts"]
    assert payload["job"] is not None, payload
    return str(payload["job"]["id"])


async def sync_state(services: Services, tenant: Tenant) -> AmsSyncState | None:
    async with services.sessions() as session:
        found = await session.scalar(
            select(AmsSyncState).where(
                AmsSyncState.client_id == tenant.client_id, AmsSyncState.entity == "product"
            )
        )
        return found


async def base_id(services: Services, tenant: Tenant) -> str | None:
    from app.provisioning.models import AmsProvisioning

    async with services.sessions() as session:
        row = await session.scalar(
            select(AmsProvisioning).where(AmsProvisioning.client_id == tenant.client_id)
        )
        return str(row.base_id) if row is not None and row.base_id else None


async def wait_until_synced(
    services: Services, tenant: Tenant, expected: int, within: float = 150
) -> float:
    """Until every pushed record is written to the AMS and no sync is due; returns seconds."""
    from app.ams.models import AmsSyncRecord

    started = time.monotonic()
    while time.monotonic() - started < within:
        state = await sync_state(services, tenant)
        if state is not None and state.due_seq == state.done_seq and state.lease_owner is None:
            async with services.sessions() as session:
                rows = await session.scalars(
                    select(AmsSyncRecord.airtable_record_id).where(
                        AmsSyncRecord.client_id == tenant.client_id
                    )
                )
                if len([r for r in rows if r]) >= expected:
                    return time.monotonic() - started
        await asyncio.sleep(0.25)
    state = await sync_state(services, tenant)
    raise AssertionError(f"not synced within {within}s: {state and state.error}")


def ams_rows(topology: Topology, tenant: Tenant, base: str) -> list[dict[str, Any]]:
    """The Products table as the sandbox AMS holds it, read with the real pyairtable."""
    api = Api(
        sandbox_token(SECRET, tenant.client_id),
        endpoint_url=f"{topology.sandbox_url}/sandbox/airtable",
    )
    return [row["fields"] for row in api.table(base, "Products").all()]  # fmt: skip


def assert_exactly(rows: list[dict[str, Any]], products: list[dict[str, Any]]) -> None:
    """The AMS holds every product once, with the fields that were pushed: no loss, no copy."""
    ids = [row["External ID"] for row in rows]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated rows"
    expected = {p["external_id"]: p for p in products}
    assert set(ids) == set(expected), (
        f"missing {len(set(expected) - set(ids))}, unexpected {len(set(ids) - set(expected))}"
    )
    for row in rows:
        product = expected[row["External ID"]]
        assert row["Name"] == product["name"]
        assert row["SKU"] == product["sku"]
        assert row["Source"] == "shopify"
