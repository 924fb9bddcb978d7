"""The retention purge: per tenant, removes what is older than its retention periods.

- raw_payload: a finished job's staged records (the records exactly as received, from every door)
  and the payloads kept with webhook notices. A staged record still held by a quarantine entry
  stays until that entry goes (quarantine replays re-run it).
- quarantine: entries that have not changed for the quarantine period (unless a replay of them
  is still running); WooCommerce variations held for a parent that never came, likewise.
- job_detail: a finished job's record errors, and webhook notices. The job's summary row (status,
  counters, times) is kept: it carries no record content. Reconciliation runs that finished
  before the period, with their mismatches (which name records and Airtable rows).
- audit: the tenant's audit rows (the gateway-wide GATEWAY_AUDIT_RETENTION_DAYS purge still
  applies to every row).

Deletes go in batches, each its own short transaction, so a purge never holds a long lock and a
crash half-way loses nothing: the next run carries on. The clock is passed in (`now`).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, and_, delete, exists, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.db.engine import reading
from app.db.models import Client, IngestJob, RecordError, StagedRecord, VariantUpdate
from app.jobs.models import FINAL_STATUSES
from app.observability.metrics import RETENTION_PURGED
from app.quarantine.models import QuarantinedRecord
from app.reconciliation.models import ReconciliationMismatch, ReconciliationRun
from app.records.variations import unclaimed
from app.retention.service import RetentionPeriods, all_policies, default_periods, effective
from app.settings import Settings
from app.tenancy.models import Tenant
from app.webhooks.models import WebhookNotice

log = structlog.get_logger("gateway.retention")

KINDS = ("raw_payload", "quarantine", "job_detail", "audit")
FINAL = [status.value for status in FINAL_STATUSES]

Sessions = async_sessionmaker[AsyncSession]
# Given a batch of keys selected for purging, the statement that removes them.
Remover = Callable[[list[Any]], Any]
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these go."""

    raw_payload: datetime
    quarantine: datetime
    job_detail: datetime
    audit: datetime

    @classmethod
    def of(cls, periods: RetentionPeriods, now: datetime) -> "Cutoffs":
        return cls(
            raw_payload=now - timedelta(days=periods.raw_payload_days),
            quarantine=now - timedelta(days=periods.quarantine_days),
            job_detail=now - timedelta(days=periods.job_detail_days),
            audit=now - timedelta(days=periods.audit_days),
        )


def _finished_jobs(tenant: Tenant, before: datetime) -> list[Any]:
    return [
        IngestJob.client_id == tenant.client_id,
        IngestJob.livemode == tenant.livemode,
        IngestJob.finished_at < before,
        IngestJob.status.in_(FINAL),
    ]


def _staged_records(tenant: Tenant, before: datetime) -> Select[str, int]:
    held = exists().where(
        QuarantinedRecord.job_id == StagedRecord.job_id,
        QuarantinedRecord.position == StagedRecord.position,
    )
    return (
        select(StagedRecord.job_id, StagedRecord.position)
        .join(IngestJob, IngestJob.id == StagedRecord.job_id)
        .where(*_finished_jobs(tenant, before), ~held)
    )


def _remove_staged(keys: list[Any]) -> Any:
    # Per job, its positions: each clause is answered from the primary key (job_id, position).
    by_job: dict[str, list[int]] = defaultdict(list)
    for key in keys:
        by_job[key.job_id].append(key.position)
    return delete(StagedRecord).where(
        or_(
            *(
                and_(StagedRecord.job_id == job_id, StagedRecord.position.in_(positions))
                for job_id, positions in by_job.items()
            )
        )
    )


def _notice_payloads(tenant: Tenant, before: datetime) -> Select[Any]:
    return select(WebhookNotice.id).where(
        WebhookNotice.client_id == tenant.client_id,
        WebhookNotice.livemode == tenant.livemode,
        WebhookNotice.received_at < before,
        WebhookNotice.payload.is_not(None),
    )


def _empty_notice_payloads(keys: list[Any]) -> Any:
    ids = [key.id for key in keys]
    return update(WebhookNotice).where(WebhookNotice.id.in_(ids)).values(payload=null())


def _quarantine_entries(tenant: Tenant, before: datetime) -> Select[Any]:
    replay = IngestJob.__table__.alias("replay")
    replaying = exists().where(
        replay.c.id == QuarantinedRecord.replay_job_id, replay.c.status.not_in(FINAL)
    )
    return select(QuarantinedRecord.id).where(
        QuarantinedRecord.client_id == tenant.client_id,
        QuarantinedRecord.livemode == tenant.livemode,
        QuarantinedRecord.updated_at < before,
        ~replaying,
    )


def _record_errors(tenant: Tenant, before: datetime) -> Select[Any]:
    return (
        select(RecordError.id)
        .join(IngestJob, IngestJob.id == RecordError.job_id)
        .where(*_finished_jobs(tenant, before))
    )


def _notices(tenant: Tenant, before: datetime) -> Select[Any]:
    return select(WebhookNotice.id).where(
        WebhookNotice.client_id == tenant.client_id,
        WebhookNotice.livemode == tenant.livemode,
        WebhookNotice.received_at < before,
    )


def _reconciliation_runs(tenant: Tenant, before: datetime) -> Select[Any]:
    run = ReconciliationRun
    return select(run.id).where(
        run.client_id == tenant.client_id, run.livemode == tenant.livemode, run.finished_at < before
    )


def _mismatches(tenant: Tenant, before: datetime) -> Select[Any]:
    """The old runs' mismatches go first, in batches: the runs' ON DELETE CASCADE would take
    all of a large run's mismatches in one transaction."""
    old_runs = _reconciliation_runs(tenant, before)
    return select(ReconciliationMismatch.id).where(ReconciliationMismatch.run_id.in_(old_runs))


def _audit_rows(tenant: Tenant, before: datetime) -> Select[Any]:
    return select(AuditEvent.id).where(
        AuditEvent.client_id == tenant.client_id,
        AuditEvent.livemode == tenant.livemode,
        AuditEvent.occurred_at < before,
    )


def _by_id(model: Any) -> Remover:
    return lambda keys: delete(model).where(model.id.in_([key.id for key in keys]))


async def _in_batches(
    sessions: Sessions, kind: str, chosen: AnySelect, remove: Remover, batch: int
) -> int:
    """Select up to `batch` keys, remove them in one short transaction; again until none left."""
    removed = 0
    while True:
        async with reading(sessions) as session:  # nothing to do: no write lock taken (SQLite)
            if (await session.execute(chosen.limit(1))).first() is None:
                return removed
        async with sessions() as session, session.begin():
            keys = list(await session.execute(chosen.limit(batch)))
            if keys:
                await session.execute(remove(keys))
        removed += len(keys)
        RETENTION_PURGED.labels(kind=kind).inc(len(keys))
        if len(keys) < batch:
            return removed


async def purge_tenant(
    sessions: Sessions, tenant: Tenant, periods: RetentionPeriods, now: datetime, batch: int
) -> dict[str, int]:
    """Purge one tenant; quarantine first, so the raw inputs it held go in the same run."""
    cut = Cutoffs.of(periods, now)
    counts = dict.fromkeys(KINDS, 0)
    steps: list[tuple[str, AnySelect, Remover]] = [
        ("quarantine", _quarantine_entries(tenant, cut.quarantine), _by_id(QuarantinedRecord)),
        ("quarantine", unclaimed(tenant, cut.quarantine), _by_id(VariantUpdate)),
        ("raw_payload", _staged_records(tenant, cut.raw_payload), _remove_staged),
        ("raw_payload", _notice_payloads(tenant, cut.raw_payload), _empty_notice_payloads),
        ("job_detail", _record_errors(tenant, cut.job_detail), _by_id(RecordError)),
        ("job_detail", _notices(tenant, cut.job_detail), _by_id(WebhookNotice)),
        ("job_detail", _mismatches(tenant, cut.job_detail), _by_id(ReconciliationMismatch)),
        ("job_detail", _reconciliation_runs(tenant, cut.job_detail), _by_id(ReconciliationRun)),
        ("audit", _audit_rows(tenant, cut.audit), _by_id(AuditEvent)),
    ]
    for kind, chosen, remove in steps:
        counts[kind] += await _in_batches(sessions, kind, chosen, remove, batch)
    return counts


async def _tenants(sessions: Sessions) -> tuple[list[Tenant], dict[Tenant, Any]]:
    async with reading(sessions) as session:
        client_ids = list(await session.scalars(select(Client.id).order_by(Client.id)))
        policies = await all_policies(session)
    tenants = [Tenant(client_id, live) for client_id in client_ids for live in (False, True)]
    return tenants, policies


async def purge_all(sessions: Sessions, settings: Settings, now: datetime) -> dict[str, int]:
    """Purge every tenant by its own policy; returns the totals per kind."""
    tenants, policies = await _tenants(sessions)
    defaults = default_periods(settings)
    totals = dict.fromkeys(KINDS, 0)
    for tenant in tenants:
        periods = effective(policies.get(tenant), defaults)
        counts = await purge_tenant(
            sessions, tenant, periods, now, settings.retention_purge_batch_size
        )
        for kind, count in counts.items():
            totals[kind] += count
        if any(counts.values()):
            log.info(
                "retention.purged",
                client_id=tenant.client_id,
                livemode=tenant.livemode,
                **counts,
            )
    return totals
