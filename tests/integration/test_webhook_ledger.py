"""The dedupe ledger under concurrency: claims made at the same moment go in one round trip, and
still each delivery id is claimed exactly once, in the database and in Redis."""

import asyncio
import uuid

import pytest

from app.contracts.fields import SourcePlatform
from app.services import Services
from app.tenancy.models import Tenant as TenantScope
from app.webhooks.connections import SecretChange, set_secret
from app.webhooks.ledger import DatabaseLedger, DeliveryLedger, RedisLedger
from app.webhooks.models import WebhookConnection
from tests.conftest import REDIS_URL, Tenant, require_service

WINDOW_SECONDS = 3600


async def connection_for(services: Services, tenant: Tenant) -> WebhookConnection:
    async with services.sessions() as session, session.begin():
        return await set_secret(
            session,
            services.settings,
            TenantScope(tenant.client_id, False),
            SecretChange(SourcePlatform.SHOPIFY, "shpss_ledger_secret"),
        )


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
async def ledger(request: pytest.FixtureRequest, services: Services) -> DeliveryLedger:
    if request.param == "database":
        return DatabaseLedger(services.sessions, WINDOW_SECONDS)
    return RedisLedger(require_service(REDIS_URL, "redis"), WINDOW_SECONDS)


async def test_simultaneous_claims_of_one_delivery_are_granted_once(services, tenant, ledger):
    connection = await connection_for(services, tenant)
    delivery = f"evt-{uuid.uuid4().hex}"
    try:
        answers = await asyncio.gather(*(ledger.claim(connection, delivery) for _ in range(8)))
        assert sorted(answers) == [False] * 7 + [True]
        assert not await ledger.claim(connection, delivery)
    finally:
        await ledger.close()


async def test_simultaneous_claims_of_distinct_deliveries_are_all_granted(services, tenant, ledger):
    connection = await connection_for(services, tenant)
    deliveries = [f"evt-{uuid.uuid4().hex}" for _ in range(20)]
    try:
        answers = await asyncio.gather(*(ledger.claim(connection, d) for d in deliveries))
        assert answers == [True] * 20
        await ledger.release(connection, deliveries[0])
        assert await ledger.claim(connection, deliveries[0])  # released: acted on again
    finally:
        await ledger.close()
