"""The quarantine's verbs: list, read, fix, replay and discard held records, within one tenant.

A fix applies a JSON merge patch to the record's standard-shaped attempt and validates it again
(contract, then the client's current rules); a record that passes is written to the canonical
store by the same path as any ingested record (app.records.storing: stale check, duplicates and
links, email consent, identity, every resolution recorded).
A replay re-maps every selected record from its raw input, re-applies its fixes and validates
it again, as an ingest job, so a large replay returns at once and survives a worker restart.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import exact_json
from app.ams import rejections
from app.ams.due import mark_sync_due
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.models import CanonicalRecord, IngestJob, StagedRecord
from app.errors import FieldError, GatewayError, NotFoundError
from app.ingest.service import IngestRequest, new_job, replayed_row, stage_replays, staged_rows
from app.jobs.models import Door
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor
from app.privacy.masking import shown_input, shown_standard
from app.privacy.suppression import held_back
from app.quarantine.holding import REPLAYABLE, error_entries, rule_ids_of
from app.quarantine.models import QuarantinedRecord, QuarantineStage, QuarantineStatus
from app.quarantine.patch import merge_patch
from app.records.policies import current_policy
from app.records.service import Outcome
from app.records.storing import store_records
from app.records.validation import ValidRecord, validate_record
from app.records.variations import variation_of
from app.rules.service import current_rule_set
from app.settings import Settings
from app.tenancy.models import Principal, Tenant

MAX_SELECTED = 100_000


@dataclass(frozen=True)
class QuarantineFilter:
    entity: Entity | None = None
    platform: str | None = None
    rule_id: str | None = None
    job_id: str | None = None
    status: QuarantineStatus | None = None


@dataclass(frozen=True)
class HeldRecord:
    """A quarantined record as a caller sees it: its raw input as received, its
    standard-shaped attempt and fixes; personal values masked unless the caller may read them."""

    entry: QuarantinedRecord
    raw: Any
    mapped: Any
    fixes: list[Any]


def _view(entry: QuarantinedRecord, raw: Any, reveal_personal: bool) -> HeldRecord:
    entity, shown = entry.entity, reveal_personal  # app.privacy.masking: one policy for reads
    return HeldRecord(
        entry,
        shown_input(entity, raw, entry.raw_platform is not None, shown),
        shown_standard(entity, entry.mapped, shown),
        [shown_standard(entity, fix, shown) for fix in entry.patches or []],
    )


@dataclass(frozen=True)
class FixResult:
    held: HeldRecord
    record: CanonicalRecord | None  # the stored record, when the fix was accepted
    outcome: Outcome | None


def _conditions(tenant: Tenant, where: QuarantineFilter) -> list[ColumnElement[bool]]:
    table = QuarantinedRecord
    conditions = [table.client_id == tenant.client_id, table.livemode == tenant.livemode]
    if where.entity is not None:
        conditions.append(table.entity == where.entity.value)
    if where.platform is not None:
        conditions.append(table.source_platform == where.platform)
    if where.job_id is not None:
        conditions.append(table.job_id == where.job_id)
    if where.status is not None:
        conditions.append(table.status == where.status.value)
    if where.rule_id is not None:
        conditions.append(table.rule_ids.contains(f" {where.rule_id} ", autoescape=True))
    return conditions


def _selected(tenant: Tenant, where: QuarantineFilter) -> Select[QuarantinedRecord]:
    return select(QuarantinedRecord).where(*_conditions(tenant, where))


async def _raw_inputs(
    session: AsyncSession, entries: Sequence[QuarantinedRecord]
) -> dict[tuple[str, int], Any]:
    """Each entry's staged raw input, by (job id, position): one query per job."""
    wanted = {(entry.job_id, entry.position) for entry in entries}
    raw: dict[tuple[str, int], Any] = {}
    for job_id in {job for job, _ in wanted}:
        positions = [position for job, position in wanted if job == job_id]
        rows = await session.execute(
            select(StagedRecord.position, StagedRecord.payload).where(
                StagedRecord.job_id == job_id, StagedRecord.position.in_(positions)
            )
        )
        for row in rows:
            raw[(job_id, row.position)] = exact_json.loads(row.payload)
    return raw


async def _with_raw(
    session: AsyncSession, entries: Sequence[QuarantinedRecord], reveal_personal: bool
) -> list[HeldRecord]:
    raw = await _raw_inputs(session, entries)
    return [
        _view(entry, raw.get((entry.job_id, entry.position)), reveal_personal) for entry in entries
    ]


async def list_quarantine(
    session: AsyncSession,
    tenant: Tenant,
    where: QuarantineFilter,
    first: int,
    after: str | None,
    reveal_personal: bool = False,
) -> Page[HeldRecord]:
    """Oldest first."""
    check_page_size(first)
    query = _selected(tenant, where)
    if after is not None:
        query = query.where(QuarantinedRecord.id > decode_cursor(after))
    found = list(await session.scalars(query.order_by(QuarantinedRecord.id).limit(first + 1)))
    page = found[:first]
    held = await _with_raw(session, page, reveal_personal)
    return Page(held, encode_cursor(page[-1].id) if page else None, len(found) > first)


async def _entry(session: AsyncSession, tenant: Tenant, entry_id: str) -> QuarantinedRecord:
    entry = await session.scalar(
        _selected(tenant, QuarantineFilter()).where(QuarantinedRecord.id == entry_id)
    )
    if entry is None:
        raise NotFoundError("quarantined record")
    return entry


async def get_quarantined(
    session: AsyncSession, tenant: Tenant, entry_id: str, reveal_personal: bool = False
) -> HeldRecord:
    entry = await _entry(session, tenant, entry_id)
    [held] = await _with_raw(session, [entry], reveal_personal)
    return held


def _not_open(entry: QuarantinedRecord) -> GatewayError:
    return GatewayError(
        "not_open",
        f"The quarantined record is {entry.status}; only OPEN (or EXHAUSTED) records can be "
        "fixed, replayed or discarded.",
        kind="conflict",
    )


async def _store(
    session: AsyncSession, tenant: Tenant, entry: QuarantinedRecord, record: ValidRecord
) -> tuple[CanonicalRecord | None, Outcome]:
    """The path of every stored record (app.records.storing), under the client's current
    conflict policy (a fix is made now, whatever the policy of the job that brought it)."""
    entity = Entity(entry.entity)
    key = (record.source_platform, record.external_id)
    policy = await current_policy(session, tenant, entity)
    stored = await store_records(session, tenant, entity, entry.job_id, {key: record}, (), policy)
    if key in stored.refused:  # a variation one too many for its parent (app.records.variations)
        [error] = stored.refused[key]
        raise GatewayError(error.code, error.message, errors=[error])
    if stored.written:
        await mark_sync_due(session, tenant, entity)  # the AMS takes it like an ingested one
    variation = variation_of(record)  # stored as one of its parent's variants
    canonical = await session.scalar(
        select(CanonicalRecord).where(
            CanonicalRecord.client_id == tenant.client_id,
            CanonicalRecord.livemode == tenant.livemode,
            CanonicalRecord.entity == entity.value,
            CanonicalRecord.source_platform == record.source_platform,
            CanonicalRecord.external_id
            == (variation.parent_id if variation else record.external_id),
        )
    )
    return canonical, stored.outcomes[key]


async def fix_quarantined(
    session: AsyncSession,
    tenant: Tenant,
    entry_id: str,
    patch: Any,
    reveal_personal: bool = False,
    *,
    settings: Settings,
) -> FixResult:
    """Patch, validate again; store and resolve when it passes, keep the new errors if not.
    A fixed record of a person the client suppresses is held back like a replayed one."""
    if not isinstance(patch, dict):
        raise GatewayError(
            "invalid_patch",
            "patch must be a JSON object (a JSON merge patch on the standard-shaped record).",
            errors=[FieldError("invalid_patch", "Not a JSON object.", ("patch",))],
        )
    entry = await _entry(session, tenant, entry_id)
    if entry.status not in REPLAYABLE:
        raise _not_open(entry)
    raw = (await _raw_inputs(session, [entry])).get((entry.job_id, entry.position))
    attempt = merge_patch(entry.mapped if entry.mapped is not None else raw, patch)
    rules = await current_rule_set(session, tenant, Entity(entry.entity))
    result = validate_record(Entity(entry.entity), exact_json.dumps(attempt), rules)
    if not isinstance(result, list):
        record = (result.data, result.source_platform, result.external_id)
        result = await held_back(session, tenant, Entity(entry.entity), settings, *record) or result
    now = datetime.now(UTC)
    entry.patches = [*(entry.patches or []), patch]
    entry.mapped = attempt
    entry.attempts += 1
    entry.updated_at = now
    if isinstance(result, list):
        entry.errors = error_entries(result)
        entry.rule_ids = rule_ids_of(result)
        return FixResult(_view(entry, raw, reveal_personal), None, None)
    canonical, outcome = await _store(session, tenant, entry, result)
    if entry.stage == QuarantineStage.AMS.value:  # to the AMS again, changed or not
        key = (entry.entity, result.source_platform, result.external_id)
        await rejections.send_again(session, tenant, [key])
    entry.external_id = result.external_id
    entry.status = QuarantineStatus.RESOLVED.value
    entry.errors, entry.rule_ids = [], ""
    entry.resolved_at = now
    return FixResult(_view(entry, raw, reveal_personal), canonical, outcome)


@dataclass(frozen=True)
class _Chosen:
    id: str
    job_id: str
    position: int
    entity: str
    raw_platform: str | None
    status: str
    stage: str
    source_platform: str | None
    external_id: str | None


_CHOSEN = (
    QuarantinedRecord.id,
    QuarantinedRecord.job_id,
    QuarantinedRecord.position,
    QuarantinedRecord.entity,
    QuarantinedRecord.raw_platform,
    QuarantinedRecord.status,
    QuarantinedRecord.stage,
    QuarantinedRecord.source_platform,
    QuarantinedRecord.external_id,
)


async def _chosen(
    session: AsyncSession,
    tenant: Tenant,
    ids: Sequence[str] | None,
    where: QuarantineFilter | None,
) -> list[_Chosen]:
    """The records a replay or discard acts on: by ids (each must exist and be open), or by
    filter (the open ones it matches)."""
    if (ids is None) == (where is None):
        raise GatewayError("invalid_selection", "Give either ids or filter (one of them).")
    if where is not None:
        query = select(*_CHOSEN).where(
            *_conditions(tenant, where), QuarantinedRecord.status.in_(REPLAYABLE)
        )
        rows = await session.execute(query.order_by(QuarantinedRecord.id).limit(MAX_SELECTED + 1))
        found = [_Chosen(*row) for row in rows]
        if len(found) > MAX_SELECTED:
            raise GatewayError(
                "too_many_selected",
                f"The filter matches more than {MAX_SELECTED} records; narrow it (e.g. by jobId).",
            )
        return found
    assert ids is not None
    if len(ids) > MAX_SELECTED:
        raise GatewayError("too_many_selected", f"At most {MAX_SELECTED} ids per call.")
    query = select(*_CHOSEN).where(
        *_conditions(tenant, QuarantineFilter()), QuarantinedRecord.id.in_(list(ids))
    )
    by_id = {row.id: _Chosen(*row) for row in await session.execute(query)}
    problems = [
        FieldError("not_found", "No quarantined record with that id.", ("ids", index))
        if entry_id not in by_id
        else FieldError("not_open", f"It is {by_id[entry_id].status}.", ("ids", index))
        for index, entry_id in enumerate(ids)
        if entry_id not in by_id or by_id[entry_id].status not in REPLAYABLE
    ]
    if problems:
        raise GatewayError(problems[0].code, problems[0].message, errors=problems)
    return [by_id[entry_id] for entry_id in dict.fromkeys(ids)]


def _replay_job(
    principal: Principal, entity: str, platform: str | None, ids: list[str]
) -> IngestJob:
    digest = hashlib.sha256(("replay:" + ",".join(ids)).encode()).hexdigest()
    request = IngestRequest(
        entity=Entity(entity),
        records=[],
        idempotency_key=None,
        door=Door.GRAPHQL,
        source_platform=SourcePlatform(platform) if platform else None,
    )
    return new_job(principal, request, digest, received=len(ids))


async def _raw_payloads(session: AsyncSession, entries: list[_Chosen]) -> dict[str, str]:
    payloads: dict[str, str] = {}
    by_job: dict[str, dict[int, str]] = defaultdict(dict)
    for entry in entries:
        by_job[entry.job_id][entry.position] = entry.id
    for job_id, positions in by_job.items():
        for start in range(0, len(positions), 5000):
            wanted = list(positions)[start : start + 5000]
            rows = await session.execute(
                select(StagedRecord.position, StagedRecord.payload).where(
                    StagedRecord.job_id == job_id, StagedRecord.position.in_(wanted)
                )
            )
            for row in rows:
                payloads[positions[row.position]] = row.payload
    return payloads


@dataclass(frozen=True)
class Replay:
    jobs: list[IngestJob]  # re-running the records that failed at ingest
    resent: int  # records the AMS refused, sent to it again by the next sync (no job)


async def replay_quarantined(
    session: AsyncSession,
    principal: Principal,
    ids: Sequence[str] | None,
    where: QuarantineFilter | None,
) -> list[IngestJob]:
    """The jobs of `replay` (for callers that need no count of the records re-sent)."""
    return (await replay(session, principal, ids, where)).jobs


async def replay(
    session: AsyncSession,
    principal: Principal,
    ids: Sequence[str] | None,
    where: QuarantineFilter | None,
) -> Replay:
    """One job per entity and raw platform holding the chosen records' raw inputs; the caller
    commits, then dispatches the jobs. The records stay OPEN until their job runs.

    Records the AMS refused have no raw input to re-run: they are sent to the AMS again by the
    next sync (no job), and stay OPEN until it writes them (RESOLVED) or refuses them again."""
    tenant = principal.tenant
    chosen = await _chosen(session, tenant, ids, where)
    in_ams = [entry for entry in chosen if entry.stage == QuarantineStage.AMS.value]
    await rejections.send_again(
        session, tenant, [(e.entity, e.source_platform or "", e.external_id or "") for e in in_ams]
    )
    entries = [entry for entry in chosen if entry.stage != QuarantineStage.AMS.value]
    payloads = await _raw_payloads(session, entries)
    groups: dict[tuple[str, str | None], list[_Chosen]] = defaultdict(list)
    for entry in entries:
        groups[(entry.entity, entry.raw_platform)].append(entry)
    jobs = []
    for (entity, platform), members in groups.items():
        job = _replay_job(principal, entity, platform, [entry.id for entry in members])
        session.add(job)
        await session.flush()
        raw = [payloads[entry.id].encode() for entry in members]
        rows = staged_rows(job.id, tenant.client_id, 0, raw, entity)
        await stage_replays(
            session, [replayed_row(row, entry.id) for row, entry in zip(rows, members, strict=True)]
        )
        jobs.append(job)
    return Replay(jobs, len(in_ams))


async def discard_quarantined(
    session: AsyncSession,
    principal: Principal,
    ids: Sequence[str] | None,
    where: QuarantineFilter | None,
) -> int:
    """Kept, marked DISCARDED with who and when; never deleted."""
    entries = await _chosen(session, principal.tenant, ids, where)
    now = datetime.now(UTC)
    for start in range(0, len(entries), 5000):
        chosen = [entry.id for entry in entries[start : start + 5000]]
        await session.execute(
            update(QuarantinedRecord)
            .where(QuarantinedRecord.id.in_(chosen), QuarantinedRecord.status.in_(REPLAYABLE))
            .values(
                status=QuarantineStatus.DISCARDED.value,
                discarded_at=now,
                discarded_by=principal.key_id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return len(entries)
