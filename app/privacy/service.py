"""Erasing one person everywhere the gateway put them, as a run of steps that survives a crash.

A run is born with its footprint (the row ids of every place the person is, app.privacy.footprint)
in one transaction; then each step deletes one place in its own transaction, which also moves the
run to the next step (compare-and-set, so two callers never both run a step). A run cut short —
the process died, or Airtable was unavailable — stays RUNNING at the step it stopped before; the
next erasure of the same person, or `resume_unfinished`, goes on from there. The last step marks
it completed, forgets the footprint, records the `subject.erased` event and, if the client opted
into suppression, remembers the person's salted hashes.

Erasure is not a block list: erasing again finds what arrived since (or nothing: a receipt of
zeros), and a later push of the same person is new data unless the client suppresses erased
people (see app.privacy.suppression).
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams.deletion import delete_rows, entity_table
from app.ams.identity_rows import rows_erased
from app.ams.models import AmsSyncRecord, ArchivedRecord
from app.ams.retries import AmsRecordRetry
from app.audit.service import AuditEntry
from app.contracts.entities import Entity
from app.db.models import CanonicalRecord, IngestJob, RecordError, StagedRecord
from app.errors import GatewayError
from app.events.catalog import EventType
from app.events.outbox import record_event
from app.ids import new_id
from app.privacy.footprint import (
    Footprint,
    KeyedRows,
    Pair,
    Position,
    at_pairs,
    at_positions,
    resolve,
)
from app.privacy.identifiers import IdentifierKind, Subject, identifier_hash, subject_hash
from app.privacy.models import ErasureRun, ErasureStatus
from app.privacy.suppression import remember_erased, suppresses_erased
from app.provisioning.service import get_provisioning
from app.quarantine.models import QuarantinedRecord
from app.reconciliation.models import ReconciliationMismatch
from app.records.resolutions import RecordResolution
from app.services import Services
from app.tenancy.models import Principal, Tenant
from app.webhooks.models import WebhookNotice

log = structlog.get_logger("gateway.privacy")

DELETE_BATCH = 500
FINISH = "finish"


@dataclass(frozen=True)
class ErasureReceipt:
    run: ErasureRun
    resumed: bool  # this call went on with a run an earlier one left unfinished

    @property
    def completed(self) -> bool:
        return self.run.status == ErasureStatus.COMPLETED.value


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[start : start + DELETE_BATCH] for start in range(0, len(items), DELETE_BATCH)]


async def _rows_changed(session: AsyncSession, statements: list[Any]) -> int:
    total = 0
    for statement in statements:
        result = await session.execute(statement)
        total += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return total


# Each step: (place in the receipt, what it does). Database steps run in the run's transaction.
DbStep = Callable[[AsyncSession, Tenant, Footprint], Awaitable[int]]
TenantRows = (
    type[CanonicalRecord]
    | type[RecordResolution]
    | type[QuarantinedRecord]
    | type[AmsSyncRecord]
    | type[WebhookNotice]
    | type[ReconciliationMismatch]
)
PositionedRows = type[StagedRecord] | type[RecordError]


def _by_id(model: TenantRows, ids_of: Callable[[Footprint], list[str]]) -> DbStep:
    async def step(session: AsyncSession, tenant: Tenant, footprint: Footprint) -> int:
        mine = (model.client_id == tenant.client_id, model.livemode == tenant.livemode)
        return await _rows_changed(
            session,
            [delete(model).where(*mine, model.id.in_(ids)) for ids in _chunks(ids_of(footprint))],
        )

    return step


def _by_position(model: PositionedRows, of: Callable[[Footprint], list[Position]]) -> DbStep:
    """Rows keyed by (job, position); these tables carry the client but not the mode (their job
    does, and the footprint's positions come from the tenant's jobs only)."""

    async def step(session: AsyncSession, tenant: Tenant, footprint: Footprint) -> int:
        where = (model.client_id == tenant.client_id,)
        return await _rows_changed(
            session,
            [
                delete(model).where(*where, at_positions(model.job_id, model.position, chunk))
                for chunk in _chunks(of(footprint))
            ],
        )

    return step


async def _idempotency_keys(session: AsyncSession, tenant: Tenant, footprint: Footprint) -> int:
    """A retry with the key must not answer with the old job (whose records are gone) as if the
    person were still held: the key is released, and a resend is accepted as new data."""
    job = IngestJob
    return await _rows_changed(
        session,
        [
            update(job)
            .where(
                job.client_id == tenant.client_id,
                job.livemode == tenant.livemode,
                job.id.in_(ids),
                job.idempotency_key.is_not(None),
            )
            .values(idempotency_key=None)
            for ids in _chunks(footprint.keyed_jobs)
        ],
    )


def _keyed(model: KeyedRows, of: Callable[[Footprint], list[Pair]]) -> DbStep:
    """Rows about the person's audience records keyed by (platform, external id)."""

    async def step(session: AsyncSession, tenant: Tenant, footprint: Footprint) -> int:
        mine = (
            model.client_id == tenant.client_id,
            model.livemode == tenant.livemode,
            model.entity == Entity.AUDIENCE.value,
        )
        return await _rows_changed(
            session,
            [
                delete(model).where(*mine, at_pairs(model.source_platform, model.external_id, keys))
                for keys in _chunks(of(footprint))
            ],
        )

    return step


_erase_sync_records = _by_id(AmsSyncRecord, lambda found: found.sync_records)


async def _sync_records(session: AsyncSession, tenant: Tenant, footprint: Footprint) -> int:
    """The person's sync bookkeeping; the other members of a merged AMS row they were in lost
    that row with theirs, and are shown again by the next sync (app.ams.identity_rows)."""
    await rows_erased(session, tenant, footprint.sync_records)
    return await _erase_sync_records(session, tenant, footprint)


AMS_ROWS = "ams_rows"
# In order: the canonical records go first, so no sync writes the person to the AMS again; the
# sync bookkeeping goes after the AMS rows, because it holds their Airtable ids.
# Record errors (why a record was quarantined: its external id, messages) go with the records.
STEPS: list[tuple[str, DbStep | None]] = [
    ("canonical_records", _by_id(CanonicalRecord, lambda found: found.canonical)),
    ("record_history", _by_id(RecordResolution, lambda found: found.history)),
    ("quarantine_entries", _by_id(QuarantinedRecord, lambda found: found.quarantine)),
    ("staged_records", _by_position(StagedRecord, lambda found: found.staged)),
    ("record_errors", _by_position(RecordError, lambda found: found.positions)),
    ("idempotency_keys", _idempotency_keys),
    ("webhook_notices", _by_id(WebhookNotice, lambda found: found.notices)),
    ("archived_records", _keyed(ArchivedRecord, lambda found: found.archived)),
    ("ams_record_retries", _keyed(AmsRecordRetry, lambda found: found.retries)),
    ("reconciliation_mismatches", _by_id(ReconciliationMismatch, lambda found: found.mismatches)),
    (AMS_ROWS, None),
    ("ams_sync_records", _sync_records),
]
PLACES = [name for name, _ in STEPS]
_NEXT = {
    name: (STEPS[i + 1][0] if i + 1 < len(STEPS) else FINISH) for i, (name, _) in enumerate(STEPS)
}


def _suppression_hashes(
    services: Services, tenant: Tenant, subject: Subject, found: Footprint
) -> list[str]:
    settings = services.settings
    hashes = {subject_hash(settings, tenant, subject)}
    if subject.kind is not IdentifierKind.EXTERNAL_ID:  # an email is theirs on every platform
        hashes.add(identifier_hash(settings, tenant, subject.kind, subject.value, None))
    for kind, values in (
        (IdentifierKind.EMAIL, found.emails),
        (IdentifierKind.PHONE, found.phones),
    ):
        hashes |= {identifier_hash(settings, tenant, kind, value, None) for value in values}
    for platform, external_id in found.pairs:
        hashes.add(
            identifier_hash(settings, tenant, IdentifierKind.EXTERNAL_ID, external_id, platform)
        )
    return sorted(hashes)


async def start_erasure(
    services: Services, principal: Principal, subject: Subject
) -> tuple[ErasureRun, bool]:
    """The person's unfinished run, or a new one born with its footprint."""
    tenant = principal.tenant
    hashed = subject_hash(services.settings, tenant, subject)
    async with services.sessions() as session, session.begin():
        unfinished = await session.scalar(
            select(ErasureRun)
            .where(
                ErasureRun.client_id == tenant.client_id,
                ErasureRun.livemode == tenant.livemode,
                ErasureRun.subject_hash == hashed,
                ErasureRun.status == ErasureStatus.RUNNING.value,
            )
            .order_by(ErasureRun.id)
            .limit(1)
        )
        if unfinished is not None:
            return unfinished, True
        found = await resolve(session, tenant, subject)
        stored = found.stored() | {
            "suppress": _suppression_hashes(services, tenant, subject, found)
        }
        now = _now()
        run = ErasureRun(
            id=new_id("ers"),
            client_id=tenant.client_id,
            livemode=tenant.livemode,
            subject_hash=hashed,
            identifier_kind=subject.kind.value,
            status=ErasureStatus.RUNNING.value,
            step=STEPS[0][0],
            footprint=stored,
            removed={place: 0 for place in PLACES},
            requested_by=principal.key_id,
            created_at=now,
            updated_at=now,
        )
        session.add(run)
    return run, False


async def _advance(session: AsyncSession, run: ErasureRun, step: str, removed: int) -> bool:
    """Move the run past `step` in the caller's transaction; False when another caller did."""
    counts = dict(run.removed) | {step: run.removed.get(step, 0) + removed}
    moved = await session.execute(
        update(ErasureRun)
        .where(ErasureRun.id == run.id, ErasureRun.step == step)
        .values(step=_NEXT[step], removed=counts, error=None, updated_at=_now())
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


async def _ams_rows(services: Services, tenant: Tenant, footprint: Footprint) -> int:
    if not footprint.airtable_records:
        return 0
    async with services.sessions() as session:
        provisioning = await get_provisioning(session, tenant)
    if provisioning is None or provisioning.base_id is None:
        return 0
    target = entity_table(
        services.settings, provisioning.config or {}, provisioning.base_id, Entity.AUDIENCE
    )
    return await delete_rows(services.settings, tenant, target, footprint.airtable_records)


class _Overtaken(Exception):
    """Another caller ran this step first: this transaction's work is dropped."""


async def _run_step(services: Services, run: ErasureRun, step: str, action: DbStep | None) -> None:
    tenant = Tenant(run.client_id, run.livemode)
    footprint = Footprint.restored(run.footprint or {})
    removed = await _ams_rows(services, tenant, footprint) if action is None else 0
    try:
        async with services.sessions() as session, session.begin():
            if action is not None:
                removed = await action(session, tenant, footprint)
            if not await _advance(session, run, step, removed):
                raise _Overtaken()
    except _Overtaken:
        pass


async def _finish(services: Services, run: ErasureRun) -> None:
    tenant = Tenant(run.client_id, run.livemode)
    now = _now()
    async with services.sessions() as session, session.begin():
        moved = await session.execute(
            update(ErasureRun)
            .where(ErasureRun.id == run.id, ErasureRun.step == FINISH)
            .values(
                status=ErasureStatus.COMPLETED.value,
                step="done",
                footprint=None,
                error=None,
                updated_at=now,
                completed_at=now,
            )
        )
        if not moved.rowcount:  # type: ignore[attr-defined]
            return
        if await suppresses_erased(session, tenant):
            await remember_erased(
                session, tenant, run.id, (run.footprint or {}).get("suppress", [])
            )
        record_event(
            session,
            tenant,
            EventType.SUBJECT_ERASED,
            {
                "run_id": run.id,
                "identifier_kind": run.identifier_kind,
                "removed": dict(run.removed),
                "erased_at": now,
            },
        )


async def _reload(services: Services, run_id: str) -> ErasureRun:
    async with services.sessions() as session:
        run = await session.get(ErasureRun, run_id)
    assert run is not None
    return run


async def carry_on(services: Services, run: ErasureRun, steps: int | None = None) -> ErasureRun:
    """Run the steps from where the run is (at most `steps` of them); an error stops it there
    (kept on the run)."""
    actions = dict(STEPS)
    while run.status == ErasureStatus.RUNNING.value and (steps is None or steps > 0):
        steps = None if steps is None else steps - 1
        try:
            if run.step == FINISH:
                await _finish(services, run)
            else:
                await _run_step(services, run, run.step, actions[run.step])
        except (GatewayError, requests.RequestException) as error:
            await _stopped(services, run, getattr(error, "message", type(error).__name__))
            return await _reload(services, run.id)
        run = await _reload(services, run.id)
    return run


async def _stopped(services: Services, run: ErasureRun, reason: str) -> None:
    log.warning("privacy.erasure_stopped", run_id=run.id, step=run.step)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(ErasureRun)
            .where(ErasureRun.id == run.id)
            .values(error=f"Stopped before {run.step}: {reason}", updated_at=_now())
        )


def _outcome(run: ErasureRun) -> str:
    return "ok" if run.status == ErasureStatus.COMPLETED.value else "erasure_incomplete"


def _targets(run: ErasureRun) -> list[str]:
    """The audit names the run and the salted hash of the person, never the identifier."""
    return [run.id, f"subject:{run.subject_hash}"]


async def erase_subject(
    services: Services, principal: Principal, subject: Subject, request_id: str | None = None
) -> ErasureReceipt:
    run, resumed = await start_erasure(services, principal, subject)
    run = await carry_on(services, run)
    services.audit.record(
        AuditEntry.by(
            principal,
            "privacy.erase_subject",
            _outcome(run),
            target_ids=_targets(run),
            request_id=request_id,
        )
    )
    log.info("privacy.erasure", run_id=run.id, status=run.status, resumed=resumed)
    return ErasureReceipt(run, resumed)


async def _claimed(services: Services, run: ErasureRun, before: datetime) -> ErasureRun | None:
    """Take the run over: a conditional update of its updated_at (the lease), so of two
    processes sweeping at once only one carries on with it."""
    async with services.sessions() as session, session.begin():
        taken = await session.execute(
            update(ErasureRun)
            .where(
                ErasureRun.id == run.id,
                ErasureRun.status == ErasureStatus.RUNNING.value,
                ErasureRun.updated_at < before,
            )
            .values(updated_at=_now())
        )
    return await _reload(services, run.id) if taken.rowcount else None  # type: ignore[attr-defined]


async def resume_unfinished(services: Services, idle_for: timedelta) -> list[str]:
    """Go on with runs nobody has touched for `idle_for` (their caller died or gave up): for a
    periodic sweep (app.privacy.resume). Returns the ids of the runs it completed."""
    before = _now() - idle_for
    async with services.sessions() as session:
        stale = (
            await session.scalars(
                select(ErasureRun)
                .where(
                    ErasureRun.status == ErasureStatus.RUNNING.value,
                    ErasureRun.updated_at < before,
                )
                .order_by(ErasureRun.id)
                .limit(100)
            )
        ).all()
    done = []
    for found in stale:
        run = await _claimed(services, found, before)
        if run is None:  # another process took it over
            continue
        finished = await carry_on(services, run)
        services.audit.record(
            AuditEntry(
                operation="privacy.erase_subject",
                result=_outcome(finished),
                actor_role="system",
                client_id=finished.client_id,
                livemode=finished.livemode,
                target_ids=_targets(finished),
            )
        )
        if finished.status == ErasureStatus.COMPLETED.value:
            done.append(finished.id)
    return done
