"""A partner whose clock is off: signed webhook deliveries stamped within the tolerance (5 min)
either way are accepted by either API process and reach the AMS once each; those further off,
in the past (a replay) or in the future, are refused with `webhook_timestamp_expired` and leave
no trace in the AMS."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import GraphQL
from tests.faults.conftest import ams_rows, base_id, wait_until_synced
from tests.integration.test_webhooks import STANDARD_SECRET, connect, path_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ACCEPTED_SKEWS = [-240, -120, -5, 0, 30, 170, 240]  # seconds; the tolerance is 300
REFUSED_SKEWS = [-3600, -400, 330, 900]


def delivery(number: int, skew: float) -> tuple[bytes, dict[str, str]]:
    record = {
        "external_id": f"crm-{number:05d}",
        "source_platform": "custom",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": f"Field Notebook {number}",
        "price": {"amount": "12.50", "currency": "EUR"},
    }
    body = json.dumps({"type": "product.updated", "data": record}).encode()
    stamp = datetime.now(UTC) + timedelta(seconds=skew)
    message_id = f"msg_{number:05d}"
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(STANDARD_SECRET).sign(message_id, stamp, body.decode()),
    }
    return body, headers


async def test_skewed_webhook_timestamps_are_accepted_within_tolerance_and_refused_beyond(
    topology, services, tenant
):
    async with httpx.AsyncClient(base_url=topology.api_urls[0], timeout=60) as client:
        connection = await connect(GraphQL(client), tenant, "custom", STANDARD_SECRET)
    skews = ACCEPTED_SKEWS + REFUSED_SKEWS
    plan = [(n, skews[n % len(skews)]) for n in range(1100)]
    gate = asyncio.Semaphore(16)
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in topology.api_urls]

    async def send(number: int, skew: float) -> tuple[int, int, Any]:
        async with gate:
            body, headers = delivery(number, skew)  # stamped as it leaves
            answer = await clients[number % 2].post(
                path_of(connection), content=body, headers=headers
            )
        return number, answer.status_code, answer.json()

    try:
        answers = await asyncio.gather(*(send(n, skew) for n, skew in plan))
    finally:
        for client in clients:
            await client.aclose()

    accepted = {n for n, skew in plan if skew in ACCEPTED_SKEWS}
    for number, status, body in answers:
        if number in accepted:
            assert status == 202, body
        else:
            assert status == 401, body
            assert body["error"]["code"] == "webhook_timestamp_expired"

    started = time.monotonic()
    await wait_until_synced(services, tenant, len(accepted), within=150)
    base = await base_id(services, tenant)
    assert base is not None
    rows = await asyncio.to_thread(ams_rows, topology, tenant, base)
    ids = [row["External ID"] for row in rows]
    assert len(ids) == len(set(ids)), "no duplicates"
    assert set(ids) == {f"crm-{n:05d}" for n in accepted}, "exactly the accepted deliveries"
    names = {row["External ID"]: row["Name"] for row in rows}
    assert all(names[f"crm-{n:05d}"] == f"Field Notebook {n}" for n in accepted)
    print(
        f"\n{len(accepted)} skewed deliveries in the AMS {time.monotonic() - started:.1f} s later"
    )
