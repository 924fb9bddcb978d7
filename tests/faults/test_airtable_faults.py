"""The Airtable emulator answers bursts of 429s, 503s and timeouts while thousands of records are
on their way: the circuit of the base opens, half-opens, recovers, and in the end the AMS holds
every record exactly once with the fields that were pushed. Nothing is marked failed."""

import asyncio
import time

import httpx
import pytest

from app.integrations.sandbox_tokens import sandbox_token
from deploy.local.topology import Topology
from tests.conftest import Tenant
from tests.faults.conftest import (
    SECRET,
    ams_rows,
    assert_exactly,
    base_id,
    push,
    sync_state,
    wait_until_synced,
)
from tests.helpers import shopify_product

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BURSTS = [  # 42 faults; each half-open probe meets one, so an outage lasts a few cool-downs
    {"after": 30, "kind": "429", "count": 15},
    {"after": 20, "kind": "503", "count": 15},
    {"after": 20, "kind": "timeout", "count": 4},
    {"after": 10, "kind": "503", "count": 8},
]


async def arm(topology: Topology, tenant: Tenant, bursts: list[dict[str, object]]) -> int:
    token = sandbox_token(SECRET, tenant.client_id)
    async with httpx.AsyncClient(base_url=topology.sandbox_url, timeout=30) as client:
        answer = await client.post(
            "/sandbox/airtable/_faults",
            json={"bursts": bursts},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["pending"])


async def faults_left(topology: Topology, tenant: Tenant) -> dict[str, object]:
    token = sandbox_token(SECRET, tenant.client_id)
    async with httpx.AsyncClient(base_url=topology.sandbox_url, timeout=30) as client:
        answer = await client.get(
            "/sandbox/airtable/_faults", headers={"Authorization": f"Bearer {token}"}
        )
    result: dict[str, object] = answer.json()
    return result


async def test_bursts_of_429_503_and_timeouts_lose_and_duplicate_nothing(
    topology, services, tenant
):
    first = [shopify_product(n) for n in range(10)]
    await push(topology.api_urls[0], tenant, first)
    await wait_until_synced(services, tenant, len(first))  # provisioned and writing
    assert await arm(topology, tenant, BURSTS) == 42

    catalog = [shopify_product(n) for n in range(10, 2010)]
    started = time.monotonic()
    await asyncio.gather(
        push(topology.api_urls[0], tenant, catalog[:1000]),
        push(topology.api_urls[1], tenant, catalog[1000:]),
    )
    took = await wait_until_synced(services, tenant, 2010, within=150)

    left = await faults_left(topology, tenant)
    assert left["pending"] == 0, "every burst was answered"
    assert left["injected"] == {"429": 15, "503": 23, "timeout": 4}
    state = await sync_state(services, tenant)
    assert state is not None and state.error is None
    base = await base_id(services, tenant)
    assert base is not None
    rows = await asyncio.to_thread(ams_rows, topology, tenant, base)
    assert_exactly(rows, first + catalog)
    logs = [worker.log_text() for worker in topology.workers]
    opened = [log for log in logs if "ams.circuit_opened" in log]
    assert opened, "the bursts opened the base's circuit"
    recovered = [log for log in opened if log.rfind("ams.circuit_closed") > log.find("opened")]
    assert recovered, "and a probe closed it again (a worker that stopped calling stays open)"
    total = time.monotonic() - started
    print(f"\n2,010 records, 42 injected faults: all in the AMS {total:.1f} s after the push")
    print(f"(sync wait {took:.1f} s)")
