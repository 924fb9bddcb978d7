"""A tenant's retention policy: the periods it keeps each kind of data, read and set.

Each period is the client's own when it set one, else the default from settings; a period set
back to null follows the default again (so a changed default reaches every client that kept it).
"""

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import FieldError, GatewayError
from app.retention.models import RetentionPolicy
from app.settings import Settings
from app.tenancy.models import Tenant

MAX_DAYS = 3650
MIN_AUDIT_DAYS = 90


@dataclass(frozen=True)
class RetentionPeriods:
    """Days each kind of data is kept."""

    raw_payload_days: int
    quarantine_days: int
    job_detail_days: int
    audit_days: int


PERIOD_NAMES = tuple(field.name for field in fields(RetentionPeriods))


@dataclass(frozen=True)
class RetentionView:
    periods: RetentionPeriods  # what applies now
    defaults: RetentionPeriods
    own: frozenset[str]  # the periods the client set itself
    updated_at: datetime | None


def default_periods(settings: Settings) -> RetentionPeriods:
    return RetentionPeriods(
        raw_payload_days=settings.retention_raw_payload_days,
        quarantine_days=settings.retention_quarantine_days,
        job_detail_days=settings.retention_job_detail_days,
        audit_days=settings.audit_retention_days,
    )


def effective(row: RetentionPolicy | None, defaults: RetentionPeriods) -> RetentionPeriods:
    if row is None:
        return defaults
    values = {name: getattr(row, name) for name in PERIOD_NAMES}
    chosen = {name: days for name, days in values.items() if days is not None}
    return replace(defaults, **chosen)


def _view(row: RetentionPolicy | None, settings: Settings) -> RetentionView:
    defaults = default_periods(settings)
    own = frozenset(n for n in PERIOD_NAMES if row is not None and getattr(row, n) is not None)
    updated_at = row.updated_at if row is not None else None
    return RetentionView(effective(row, defaults), defaults, own, updated_at)


async def _row(session: AsyncSession, tenant: Tenant) -> RetentionPolicy | None:
    return await session.get(RetentionPolicy, (tenant.client_id, tenant.livemode))


async def get_policy(session: AsyncSession, tenant: Tenant, settings: Settings) -> RetentionView:
    return _view(await _row(session, tenant), settings)


def bounds(name: str, settings: Settings) -> tuple[int, int]:
    """The days a client may choose for one period. Audit rows: at least 90 days, and at most
    the gateway-wide GATEWAY_AUDIT_RETENTION_DAYS (the audit purge removes older rows anyway)."""
    if name == "audit_days":
        return MIN_AUDIT_DAYS, settings.audit_retention_days
    return 1, MAX_DAYS


def check_changes(changes: dict[str, int | None], settings: Settings) -> None:
    problems = []
    for name, days in changes.items():
        if name not in PERIOD_NAMES:
            problems.append(FieldError("unknown_period", f"No retention period {name!r}.", (name,)))
            continue
        low, high = bounds(name, settings)
        if days is not None and not low <= days <= high:
            message = f"{name} must be between {low} and {high} days (got {days})."
            problems.append(FieldError("out_of_range", message, (name,)))
    if problems:
        raise GatewayError("invalid_retention_policy", problems[0].message, errors=problems)


async def set_policy(
    session: AsyncSession,
    tenant: Tenant,
    settings: Settings,
    changes: dict[str, int | None],
    key_id: str | None,
) -> RetentionView:
    """Apply the given periods (None: back to the default); those not given stay as they are."""
    check_changes(changes, settings)
    row = await _row(session, tenant)
    if row is None:
        row = RetentionPolicy(client_id=tenant.client_id, livemode=tenant.livemode)
        session.add(row)
    for name, days in changes.items():
        setattr(row, name, days)
    row.updated_at = datetime.now(UTC)
    row.updated_by = key_id
    await session.flush()
    return _view(row, settings)


async def all_policies(session: AsyncSession) -> dict[Tenant, RetentionPolicy]:
    rows = await session.scalars(select(RetentionPolicy))
    return {Tenant(row.client_id, row.livemode): row for row in rows}
