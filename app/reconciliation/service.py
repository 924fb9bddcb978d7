"""Reconciling a tenant's AMS base with its canonical records, one entity at a time.

A run reads what the gateway wrote (the canonical records and their sync bookkeeping), reads the
base's table, compares them column by column (`compare`), stores the run and what it found, and
with `repair` has the normal AMS sync rewrite what differs (`repair`). A sample (the default, see
`sampling`) judges a random share of the settled records; `full` judges all of them and also
finds rows the gateway does not know. Mismatches are counted in Prometheus and announced to the
client as a `reconciliation.mismatched` event (counts only).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ams import identity_rows
from app.ams.deletion import AmsTable, entity_table
from app.ams.fieldmap import table_maps
from app.ams.pacing import make_pacer
from app.contracts.entities import Entity
from app.db.engine import reading
from app.errors import GatewayError
from app.events.catalog import EventType
from app.events.outbox import record_event
from app.ids import new_id
from app.integrations.airtable import AirtableRecord
from app.integrations.routing import ams_for
from app.provisioning.models import ProvisioningStatus
from app.provisioning.service import get_provisioning
from app.reconciliation import repair, snapshot
from app.reconciliation.compare import Columns, Comparison, Finding, compare
from app.reconciliation.errors import NotProvisioned
from app.reconciliation.metrics import observe
from app.reconciliation.models import (
    MismatchKind,
    ReconciliationMismatch,
    ReconciliationRun,
    RunStatus,
    RunTrigger,
)
from app.reconciliation.reader import TableReader
from app.reconciliation.sampling import sample_size
from app.settings import Settings
from app.tenancy.models import Tenant

log = structlog.get_logger("gateway.reconciliation")

Dispatch = Callable[[], Awaitable[None]]  # hands due syncs to workers after a repair commits


@dataclass(frozen=True)
class ReconcileRequest:
    tenant: Tenant
    entity: Entity
    full: bool = False
    repair: bool = False
    trigger: RunTrigger = RunTrigger.OPERATOR
    requested_by: str | None = None


@dataclass
class _Run:
    request: ReconcileRequest
    row: ReconciliationRun
    target: AmsTable
    findings: list[Finding]
    identity_columns: bool = True  # the base has the merged rows' identity columns


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    request: ReconcileRequest,
    dispatch: Dispatch | None = None,
) -> ReconciliationRun:
    """Run one audit and store it. A client without a provisioned base raises NotProvisioned;
    an AMS that fails or cannot be reached gives a FAILED run (stored, counted, logged)."""
    async with reading(sessions) as session:
        provisioned = await get_provisioning(session, request.tenant)
    if provisioned is None or provisioned.status != ProvisioningStatus.PROVISIONED.value:
        raise NotProvisioned()
    target = entity_table(
        settings, provisioned.config or {}, str(provisioned.base_id), request.entity
    )
    run = _Run(request, _new_row(request), target, [])
    run.identity_columns = identity_rows.template_has_identity_columns(provisioned.config)
    with structlog.contextvars.bound_contextvars(
        client_id=request.tenant.client_id, entity=request.entity.value, run_id=run.row.id
    ):
        try:
            await _audit(sessions, settings, run)
        except (GatewayError, OSError) as error:
            log.warning("reconciliation.failed", error=str(error))
            run.findings = []
            run.row.status, run.row.error = RunStatus.FAILED.value, _reason(error)
        if request.repair and run.row.status == RunStatus.SUCCEEDED.value:
            await _delete_duplicates(settings, run)
        await _store(sessions, run)
        observe(run.row)
        log.info("reconciliation.finished", status=run.row.status, found=len(run.findings))
    if run.row.requeued and dispatch is not None:
        await dispatch()
    return run.row


async def _delete_duplicates(settings: Settings, run: _Run) -> None:
    try:
        run.row.deleted = await repair.delete_duplicates(
            settings, run.request.tenant, run.target, run.findings
        )
    except (GatewayError, OSError) as error:
        log.warning("reconciliation.repair_failed", error=str(error))
        run.row.status = RunStatus.FAILED.value
        run.row.error = f"Duplicate rows could not be deleted ({error}); nothing was requeued."


def _reason(error: Exception) -> str:
    cause = error.message if isinstance(error, GatewayError) else type(error).__name__
    return f"The AMS base could not be read ({cause}); the next run tries again."


def _new_row(request: ReconcileRequest) -> ReconciliationRun:
    now = datetime.now(UTC)
    return ReconciliationRun(
        id=new_id("rcn"),
        client_id=request.tenant.client_id,
        livemode=request.tenant.livemode,
        entity=request.entity.value,
        full=request.full,
        repair=request.repair,
        trigger=request.trigger.value,
        status=RunStatus.SUCCEEDED.value,
        error=None,
        **dict.fromkeys(COUNTS, 0),
        requested_by=request.requested_by,
        started_at=now,
        finished_at=now,
    )


COUNTS = (
    "population",
    "checked",
    "pending",
    "rows_read",
    "missing",
    "extra",
    "duplicate",
    "field",
    "requeued",
    "deleted",
    "airtable_requests",
)


async def _audit(sessions: async_sessionmaker[AsyncSession], settings: Settings, run: _Run) -> None:
    request, row = run.request, run.row
    table_map = table_maps(settings.contracts_dir)[request.entity]
    columns = Columns.of(table_map, settings.contracts_dir, run.identity_columns)
    async with reading(sessions) as session:
        if request.full:
            found = await snapshot.everything(session, request.tenant, table_map, columns)
        else:
            population = await snapshot.settled_count(
                session, request.tenant, request.entity, table_map.version
            )
            size = sample_size(
                population,
                settings.reconciliation_sample_rate,
                settings.reconciliation_sample_confidence,
            )
            found = await snapshot.sample(
                session, request.tenant, table_map, columns, size, population
            )
    row.population, row.checked = found.population, len(found.expected)
    row.pending = len(found.unjudged)
    rows = await _read_base(settings, run, columns, [e.key[1] for e in found.expected])
    row.rows_read = len(rows)
    comparison = compare(columns, found.expected, rows, found.unjudged if request.full else None)
    run.findings = await _settled_findings(sessions, run, comparison)
    for kind in MismatchKind:
        setattr(row, kind.value, sum(1 for f in run.findings if f.kind is kind))


async def _read_base(
    settings: Settings, run: _Run, columns: Columns, external_ids: list[str]
) -> list[AirtableRecord]:
    pacer = make_pacer(settings)

    def counted() -> None:
        run.row.airtable_requests += 1

    try:
        reader = TableReader(
            ams_for(run.request.tenant, settings).airtable,
            run.target.base_id,
            run.target.table,
            columns.to_read(),
            pacer,
            settings,
            counted,
        )
        if run.request.full:
            return await reader.all()
        return await reader.by_external_ids(external_ids) if external_ids else []
    finally:
        await pacer.close()


async def _settled_findings(
    sessions: async_sessionmaker[AsyncSession], run: _Run, comparison: Comparison
) -> list[Finding]:
    """The findings, less those about records the sync rewrote while the base was read."""
    judged = [f.key for f in comparison.findings if f.key and f.kind is not MismatchKind.EXTRA]
    async with reading(sessions) as session:
        moved = await snapshot.rewritten_since(
            session, run.request.tenant, run.request.entity, run.row.started_at, judged
        )
    return [f for f in comparison.findings if f.key not in moved or f.kind is MismatchKind.EXTRA]


async def _store(sessions: async_sessionmaker[AsyncSession], run: _Run) -> None:
    """The run, what it found and (repair) the records requeued, in one transaction."""
    row, tenant = run.row, run.request.tenant
    async with sessions() as session, session.begin():
        if run.request.repair and row.status == RunStatus.SUCCEEDED.value:
            row.requeued = await repair.requeue(session, tenant, run.request.entity, run.findings)
        row.finished_at = datetime.now(UTC)
        session.add(row)
        await session.flush()
        session.add_all(_mismatch(row, finding) for finding in run.findings)
        if run.findings:
            record_event(session, tenant, EventType.RECONCILIATION_MISMATCHED, _event(row))


def _mismatch(run: ReconciliationRun, finding: Finding) -> ReconciliationMismatch:
    platform, external_id = finding.key or (None, None)
    return ReconciliationMismatch(
        id=new_id("rcm"),
        run_id=run.id,
        client_id=run.client_id,
        livemode=run.livemode,
        kind=finding.kind.value,
        source_platform=platform,
        external_id=external_id,
        airtable_record_id=finding.airtable_record_id,
        columns=list(finding.columns),
    )


def _event(run: ReconciliationRun) -> dict[str, object]:
    return {
        "run_id": run.id,
        "entity": run.entity,
        "full": run.full,
        "checked": run.checked,
        **{kind.value: getattr(run, kind.value) for kind in MismatchKind},
        "finished_at": run.finished_at,
    }
