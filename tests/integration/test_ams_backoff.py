"""A sync that keeps failing is retried with exponential backoff (shown in its state), never
given up on; a success resets it. The AMS is the Airtable emulator reached with pyairtable."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.ams.models import AmsSyncState
from app.ams.service import AmsRuntime, run_sync
from app.contracts.entities import Entity
from app.provisioning.models import AmsProvisioning
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import Tenant, create_tenant
from tests.helpers import Gateway, eventually, served_gateway, shopify_product
from tests.integration.test_ams_sync import ams_settings, push, synced_after

MISSING_BASE = "appMissing0000000"
SHOWN_BACKOFF = "{ viewer { amsSync { entities { entity failures nextRetryAt error } } } }"


@pytest.fixture
def settings(fast_sandbox_settings: Settings) -> Settings:
    return ams_settings(fast_sandbox_settings, ams_sync_redispatch_after_seconds=0.2)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    async with served_gateway(settings) as served:
        yield served


async def _state(services: Services, tenant: Tenant) -> AmsSyncState | None:
    async with services.sessions() as session:
        found: AmsSyncState | None = await session.scalar(
            select(AmsSyncState).where(
                AmsSyncState.client_id == tenant.client_id,
                AmsSyncState.entity == Entity.PRODUCT.value,
            )
        )
        return found


async def _point_at(services: Services, tenant: Tenant, base_id: str) -> str:
    async with services.sessions() as session, session.begin():
        row = await session.scalar(
            select(AmsProvisioning).where(AmsProvisioning.client_id == tenant.client_id)
        )
        assert row is not None and row.base_id is not None
        previous, row.base_id = row.base_id, base_id
        return previous


async def _set_retry_at(services: Services, tenant: Tenant, when: datetime) -> None:
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(AmsSyncState)
            .where(AmsSyncState.client_id == tenant.client_id)
            .values(retry_at=when)
        )


async def _shown_backoff(gateway: Gateway, tenant: Tenant) -> dict[str, Any]:
    """The product sync's backoff as viewer.amsSync shows it."""
    data = await gateway.gql(SHOWN_BACKOFF, key=tenant.secret)
    [found] = [e for e in data["viewer"]["amsSync"]["entities"] if e["entity"] == "PRODUCT"]
    return {name: found[name] for name in ("failures", "nextRetryAt", "error")}


async def test_a_failing_sync_backs_off_and_a_success_resets_it(
    gateway: Gateway, services: Services
) -> None:
    acme = await create_tenant(services, "Acme", "test")
    await push(gateway, acme, [shopify_product(n) for n in range(2)])
    await synced_after(gateway, acme, None)
    base_id = await _point_at(services, acme, MISSING_BASE)  # Airtable answers 404 from now on

    await push(gateway, acme, [shopify_product(0, updated_at="2026-11-05T10:00:00Z", name="New")])

    async def failed_twice() -> AmsSyncState | None:
        state = await _state(services, acme)
        return state if state is not None and state.failures >= 2 else None

    state = await eventually(failed_twice)
    assert state.retry_at is not None and state.dispatched_at is not None
    base = gateway.settings.ams_sync_redispatch_after_seconds
    expected = base * 2 ** (state.failures - 1)
    waited = (state.retry_at - state.dispatched_at).total_seconds()
    assert expected * 0.95 <= waited <= expected * 1.2 + 0.05
    assert state.error is not None and f"failed {state.failures} time(s) in a row" in state.error
    assert "next try at" in state.error

    # While backed off, a sync is not even claimed: no request reaches Airtable.
    await _set_retry_at(services, acme, datetime.now(UTC) + timedelta(hours=1))
    before = len(gateway.traffic.requests)
    runtime = AmsRuntime.create(gateway.settings, services.sessions)
    try:
        assert await run_sync(runtime, TenantScope(acme.client_id, False), Entity.PRODUCT) is None
    finally:
        await runtime.close()
    assert len(gateway.traffic.requests) == before
    shown = await _shown_backoff(gateway, acme)
    state = await _state(services, acme)
    assert state is not None and state.retry_at is not None
    assert shown["failures"] == state.failures >= 2
    assert datetime.fromisoformat(shown["nextRetryAt"]) == state.retry_at

    # The base is back and the backoff ends: the sync goes through and the failures reset.
    await _point_at(services, acme, base_id)
    await _set_retry_at(services, acme, datetime.now(UTC))

    async def recovered() -> AmsSyncState | None:
        found = await _state(services, acme)
        return found if found is not None and found.done_seq == found.due_seq else None

    state = await eventually(recovered)
    assert (state.failures, state.retry_at, state.error) == (0, None, None)
    assert await _shown_backoff(gateway, acme) == {
        "failures": 0,
        "nextRetryAt": None,
        "error": None,
    }
