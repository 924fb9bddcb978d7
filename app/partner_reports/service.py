"""Recording partner reports and summarising them into per-platform sync health."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.errors import FieldError, GatewayError
from app.events.catalog import EventType
from app.events.outbox import record_event
from app.ids import new_id
from app.partner_reports.models import UNHEALTHY, ConnectionHealth, ConnectionStatus, SyncRun
from app.tenancy.models import Principal, Tenant

log = structlog.get_logger("gateway.partner_reports")

KEPT_ERRORS = 50
MAX_TEXT = 1000
ERROR_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ReportedError:
    code: str
    message: str
    external_id: str | None = None


@dataclass(frozen=True)
class SyncRunReport:
    platform: SourcePlatform
    entity: Entity
    started_at: datetime
    finished_at: datetime
    records_sent: int
    errors: list[ReportedError] = field(default_factory=list)


def _problems(report: SyncRunReport) -> list[FieldError]:
    problems = []
    for name in ("started_at", "finished_at"):
        if getattr(report, name).tzinfo is None:
            problems.append(FieldError("invalid_datetime", "A UTC offset is required.", (name,)))
    if not problems and report.finished_at < report.started_at:
        problems.append(
            FieldError("invalid_range", "finishedAt is before startedAt.", ("finished_at",))
        )
    if report.records_sent < 0:
        problems.append(FieldError("invalid_count", "Cannot be negative.", ("records_sent",)))
    return problems


async def report_sync_run(
    session: AsyncSession, principal: Principal, report: SyncRunReport
) -> SyncRun:
    problems = _problems(report)
    if problems:
        raise GatewayError("invalid_sync_run", problems[0].message, errors=problems)
    tenant = principal.tenant
    run = SyncRun(
        id=new_id("syn"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        platform=report.platform.value,
        entity=report.entity.value,
        started_at=report.started_at,
        finished_at=report.finished_at,
        records_sent=report.records_sent,
        error_count=len(report.errors),
        errors=[_kept(error) for error in report.errors[:KEPT_ERRORS]],
        reported_by=principal.key_id,
        reported_at=datetime.now(UTC),
    )
    session.add(run)
    await session.flush()
    return run


def _kept(error: ReportedError) -> dict[str, str]:
    kept = {"code": error.code[:100], "message": error.message[:MAX_TEXT]}
    if error.external_id is not None:
        kept["external_id"] = error.external_id[:200]
    return kept


@dataclass(frozen=True)
class HealthChange:
    health: ConnectionHealth
    previous: ConnectionStatus | None

    @property
    def alerting(self) -> bool:
        """A connection that just became stale, revoked or failing."""
        current = ConnectionStatus(self.health.status)
        return current in UNHEALTHY and current != self.previous

    @property
    def recovered(self) -> bool:
        return self.health.status == ConnectionStatus.HEALTHY and self.previous in UNHEALTHY


async def report_connection_health(
    session: AsyncSession,
    tenant: Tenant,
    platform: SourcePlatform,
    status: ConnectionStatus,
    detail: str | None,
) -> HealthChange:
    now = datetime.now(UTC)
    key = (tenant.client_id, tenant.livemode, platform.value)
    row = await session.get(ConnectionHealth, key, with_for_update=True)
    previous = ConnectionStatus(row.status) if row else None
    if row is None:
        row = ConnectionHealth(
            client_id=tenant.client_id, livemode=tenant.livemode, platform=platform.value
        )
        session.add(row)
    if previous != status:
        row.since = now
    row.status, row.detail, row.reported_at = status.value, (detail or None), now
    if row.detail:
        row.detail = row.detail[:MAX_TEXT]
    await session.flush()
    change = HealthChange(row, previous)
    if change.alerting:
        log.warning(
            "connection.unhealthy",
            client_id=tenant.client_id,
            platform=platform.value,
            status=status.value,
        )
    _announce(session, tenant, change)
    return change


def _announce(session: AsyncSession, tenant: Tenant, change: HealthChange) -> None:
    """The alert as a change event, in the report's transaction (the metric is read from the
    rows: gateway_partner_connection_unhealthy)."""
    row, previous = change.health, (change.previous.value if change.previous else None)
    if change.alerting:
        record_event(
            session,
            tenant,
            EventType.CONNECTION_UNHEALTHY,
            {
                "platform": row.platform,
                "status": row.status,
                "previous_status": previous,
                "since": row.since,
            },
        )
    elif change.recovered:
        data = {"platform": row.platform, "previous_status": previous, "since": row.since}
        record_event(session, tenant, EventType.CONNECTION_RECOVERED, data)


@dataclass(frozen=True)
class PlatformHealth:
    platform: str
    health: ConnectionHealth | None
    last_runs: list[SyncRun]  # the latest run per entity
    errors_last_24h: int


async def sync_health(session: AsyncSession, tenant: Tenant) -> list[PlatformHealth]:
    mine = (SyncRun.client_id == tenant.client_id, SyncRun.livemode == tenant.livemode)
    latest = select(func.max(SyncRun.id)).where(*mine).group_by(SyncRun.platform, SyncRun.entity)
    runs = list(await session.scalars(select(SyncRun).where(SyncRun.id.in_(latest))))
    since = datetime.now(UTC) - ERROR_WINDOW
    totals = await session.execute(
        select(SyncRun.platform, func.sum(SyncRun.error_count))
        .where(*mine, SyncRun.finished_at >= since)
        .group_by(SyncRun.platform)
    )
    error_totals = {platform: int(total or 0) for platform, total in totals}
    healths = {
        row.platform: row
        for row in await session.scalars(
            select(ConnectionHealth).where(
                ConnectionHealth.client_id == tenant.client_id,
                ConnectionHealth.livemode == tenant.livemode,
            )
        )
    }
    platforms = sorted({run.platform for run in runs} | set(healths))
    return [
        PlatformHealth(
            platform=platform,
            health=healths.get(platform),
            last_runs=sorted(
                (run for run in runs if run.platform == platform), key=lambda run: run.entity
            ),
            errors_last_24h=error_totals.get(platform, 0),
        )
        for platform in platforms
    ]
