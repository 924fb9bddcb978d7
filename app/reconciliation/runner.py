"""The daily audit: every tenant and entity the AMS sync has written, once per
GATEWAY_RECONCILIATION_INTERVAL_SECONDS, a sample (or all, GATEWAY_RECONCILIATION_FULL). Audits
only, never repairs: an operator decides that (the `reconcile` mutation with repair: true).

Embedded shape: a task in the API process looks for due audits every
GATEWAY_RECONCILIATION_CHECK_INTERVAL_SECONDS. Scale-out: an hourly arq cron job
(workers/arq_worker.py) does the same. Due is decided from the stored runs, so restarts and
several processes never audit a tenant twice in one interval."""

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams.models import AmsSyncState
from app.contracts.entities import Entity
from app.db.engine import reading
from app.periodic import Periodic
from app.provisioning.models import AmsProvisioning, ProvisioningStatus
from app.reconciliation.errors import NotProvisioned
from app.reconciliation.models import ReconciliationRun, RunStatus, RunTrigger
from app.reconciliation.service import ReconcileRequest, reconcile
from app.settings import Settings
from app.tenancy.models import Tenant

log = structlog.get_logger("gateway.reconciliation")


async def due_audits(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> list[tuple[Tenant, Entity]]:
    """Synced entities of provisioned tenants with no scheduled run within the interval."""
    since = now - timedelta(seconds=settings.reconciliation_interval_seconds)
    state, provisioned, run = AmsSyncState, AmsProvisioning, ReconciliationRun
    recent = (
        select(run.client_id, run.livemode, run.entity)
        .where(run.trigger == RunTrigger.SCHEDULED.value, run.started_at >= since)
        .distinct()
    )
    async with reading(sessions) as session:
        synced = await session.execute(
            select(state.client_id, state.livemode, state.entity)
            .join(
                provisioned,
                (provisioned.client_id == state.client_id)
                & (provisioned.livemode == state.livemode),
            )
            .where(
                provisioned.status == ProvisioningStatus.PROVISIONED.value,
                state.last_synced_at.is_not(None),
            )
            .order_by(state.client_id, state.livemode, state.entity)
        )
        done = {tuple(row) for row in (await session.execute(recent))}
    return [
        (Tenant(client_id, bool(livemode)), Entity(entity))
        for client_id, livemode, entity in synced
        if (client_id, livemode, entity) not in done
    ]


async def run_due_audits(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, int]:
    """One audit per due tenant and entity, one after the other (each paced per base)."""
    totals = {"runs": 0, "mismatched": 0, "failed": 0}
    for tenant, entity in await due_audits(sessions, settings, datetime.now(UTC)):
        request = ReconcileRequest(
            tenant, entity, full=settings.reconciliation_full, trigger=RunTrigger.SCHEDULED
        )
        try:
            run = await reconcile(sessions, settings, request)
        except NotProvisioned:
            continue
        except Exception as error:  # one tenant's failure does not stop the others' audits
            log.warning("reconciliation.crashed", error=type(error).__name__)
            totals["failed"] += 1
            continue
        totals["runs"] += 1
        totals["failed"] += run.status == RunStatus.FAILED.value
        totals["mismatched"] += bool(run.missing + run.extra + run.duplicate + run.field)
    log.info("reconciliation.daily_finished", **totals)
    return totals


class Reconciler(Periodic):
    """Looks for due audits at start-up, then every check interval (see the settings)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        super().__init__(
            "reconciliation",
            lambda: run_due_audits(sessions, settings),
            settings.reconciliation_check_interval_seconds,
        )
        self._enabled = settings.reconciliation_enabled

    async def start(self) -> None:
        if self._enabled:
            await super().start()
