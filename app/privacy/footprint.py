"""Where one person is: the rows of every place the gateway put them, found through indexes only
(see app.privacy.lookup_sql, app.privacy.staged_subjects and migrations 0020_privacy and
0034_staged_subjects), within one tenant.

The canonical audience records matching the identifier give the person's (platform, external id)
pairs and emails; staged payloads are matched on those emails and external ids (so a record that
only ever carried a phone number is still found through its id); quarantine entries, record
errors and idempotency keys are reached from the staged rows' (job, position); the record history
(resolved conflicts), AMS sync rows and archivals from the pairs; reconciliation mismatches from
the pairs and the Airtable record ids; webhook notices (events that did not become jobs) from the
emails and the pairs. What an erasure run stores of a footprint is row ids only (an archival's
row id is its primary key, the record's platform and external id), never the personal values.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, literal_column, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from app.ams.models import AmsSyncRecord, ArchivedRecord
from app.ams.retries import AmsRecordRetry
from app.contracts.entities import Entity
from app.db.models import CanonicalRecord, IngestJob, StagedRecord
from app.privacy.identifiers import IdentifierKind, Subject
from app.privacy.lookup_sql import CANONICAL_EMAIL, CANONICAL_PHONE, NOTICE_EMAIL
from app.privacy.staged_subjects import email_in, id_in
from app.quarantine.models import QuarantinedRecord
from app.reconciliation.models import ReconciliationMismatch, ReconciliationRun
from app.records.resolutions import RecordResolution
from app.tenancy.models import Tenant
from app.webhooks.models import WebhookNotice

AUDIENCE = Entity.AUDIENCE.value
Pair = tuple[str, str]  # (source platform, external id)
Position = tuple[str, int]  # (job id, position)


@dataclass
class Footprint:
    canonical: list[str] = field(default_factory=list)
    staged: list[Position] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)
    sync_records: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # resolved conflicts of their records
    airtable_records: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # webhook notices (events kept as sent)
    archived: list[Pair] = field(default_factory=list)  # archivals of their records (by key)
    retries: list[Pair] = field(default_factory=list)  # AMS write retries of their records
    mismatches: list[str] = field(default_factory=list)  # reconciliation mismatches naming them
    keyed_jobs: list[str] = field(default_factory=list)  # jobs whose idempotency key holds them
    positions: list[Position] = field(default_factory=list)  # staged and quarantined (job, pos)
    pairs: list[Pair] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)

    def stored(self) -> dict[str, Any]:
        """What the erasure run keeps while it runs: row ids only."""
        return {
            "canonical": self.canonical,
            "staged": [list(p) for p in self.staged],
            "quarantine": self.quarantine,
            "sync_records": self.sync_records,
            "history": self.history,
            "airtable_records": self.airtable_records,
            "notices": self.notices,
            "archived": [list(p) for p in self.archived],
            "retries": [list(p) for p in self.retries],
            "mismatches": self.mismatches,
            "keyed_jobs": self.keyed_jobs,
            "positions": [list(p) for p in self.positions],
        }

    @classmethod
    def restored(cls, stored: dict[str, Any]) -> "Footprint":
        return cls(
            canonical=list(stored["canonical"]),
            staged=[(job, int(position)) for job, position in stored["staged"]],
            quarantine=list(stored["quarantine"]),
            sync_records=list(stored["sync_records"]),
            history=list(stored["history"]),
            airtable_records=list(stored["airtable_records"]),
            notices=list(stored.get("notices", [])),  # runs started before notices were erased
            # runs started before archivals and mismatches were erased
            archived=[
                (platform, external_id) for platform, external_id in stored.get("archived", [])
            ],
            mismatches=list(stored.get("mismatches", [])),
            retries=[
                (platform, external_id) for platform, external_id in stored.get("retries", [])
            ],
            keyed_jobs=list(stored["keyed_jobs"]),
            positions=[(job, int(position)) for job, position in stored["positions"]],
        )


def at_positions(job_id: Any, position: Any, positions: Sequence[Position]) -> ColumnElement[bool]:
    """(job, position) pairs as one indexed search per job: SQLite answers a row-value IN with a
    scan of the table, but `job_id = ? AND position IN (…)` terms OR-ed together from the index."""
    by_job: dict[str, list[int]] = defaultdict(list)
    for job, at in positions:
        by_job[job].append(at)
    return or_(*[and_(job_id == job, position.in_(at)) for job, at in sorted(by_job.items())])


def at_pairs(platform: Any, external_id: Any, pairs: Sequence[Pair]) -> ColumnElement[bool]:
    """(platform, external id) pairs as one indexed search per platform (see at_positions)."""
    by_platform: dict[str, list[str]] = defaultdict(list)
    for source, at in pairs:
        by_platform[source].append(at)
    return or_(
        *[and_(platform == p, external_id.in_(ids)) for p, ids in sorted(by_platform.items())]
    )


def _expression(session: AsyncSession, by_dialect: dict[str, str]) -> Any:
    return literal_column(by_dialect[session.get_bind().dialect.name])


async def find_canonical(
    session: AsyncSession, tenant: Tenant, subject: Subject
) -> list[CanonicalRecord]:
    record = CanonicalRecord
    query = select(record).where(record.client_id == tenant.client_id)
    query = query.where(record.livemode == tenant.livemode)
    if subject.kind is IdentifierKind.EMAIL:
        query = query.where(_expression(session, CANONICAL_EMAIL) == subject.value)
    elif subject.kind is IdentifierKind.PHONE:
        query = query.where(_expression(session, CANONICAL_PHONE) == subject.value)
    else:
        query = query.where(record.external_id == subject.value)
    query = query.where(record.entity == AUDIENCE)
    if subject.platform is not None:
        query = query.where(record.source_platform == subject.platform.value)
    return list((await session.scalars(query.order_by(record.id))).all())


def _platform_of(payload: dict[str, Any], job_platform: str | None) -> str | None:
    if job_platform is not None:
        return job_platform
    value = payload.get("source_platform")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class StagedMatch:
    position: Position
    platform: str | None
    external_id: str | None
    idempotency_key: str | None


async def find_staged(
    session: AsyncSession, tenant: Tenant, subject: Subject, footprint: Footprint
) -> list[StagedMatch]:
    """Staged audience payloads holding one of the person's emails or external ids."""
    emails = sorted(set(footprint.emails))
    ids = {external_id for _, external_id in footprint.pairs}
    if subject.kind is IdentifierKind.EXTERNAL_ID:
        ids.add(subject.value)
    conditions = []
    if emails:
        by_email: BindParameter[list[str]] = bindparam("subject_emails", emails, expanding=True)
        conditions.append(StagedRecord.subject_email.in_(by_email))
    if ids:
        by_id: BindParameter[list[str]] = bindparam(
            "subject_external_ids", sorted(ids), expanding=True
        )
        conditions.append(StagedRecord.subject_external_id.in_(by_id))
    if not conditions:
        return []
    rows = await session.execute(
        select(StagedRecord.job_id, StagedRecord.position, StagedRecord.payload, IngestJob)
        .join(IngestJob, IngestJob.id == StagedRecord.job_id)
        .where(StagedRecord.client_id == tenant.client_id, or_(*conditions))
        .where(IngestJob.livemode == tenant.livemode, IngestJob.entity == AUDIENCE)
        .order_by(StagedRecord.job_id, StagedRecord.position)
    )
    found = []
    for job_id, position, text, job in rows:
        loaded = orjson.loads(text)
        payload: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        platform = _platform_of(payload, job.source_platform)
        if subject.platform is not None and platform != subject.platform.value:
            continue
        external_id = id_in(payload)
        if email_in(payload) in emails or _is_theirs(subject, footprint, platform, external_id):
            found.append(
                StagedMatch((job_id, position), platform, external_id, job.idempotency_key)
            )
    return found


def _is_theirs(
    subject: Subject, footprint: Footprint, platform: str | None, external_id: str | None
) -> bool:
    """An id names this person only on its platform (ids repeat across platforms)."""
    if external_id is None:
        return False
    if subject.kind is IdentifierKind.EXTERNAL_ID and external_id == subject.value:
        return True
    return (platform or "", external_id) in set(footprint.pairs)


async def find_quarantine(
    session: AsyncSession, tenant: Tenant, footprint: Footprint
) -> list[QuarantinedRecord]:
    """Entries of the person's staged records, and entries naming one of their pairs (their raw
    input may be purged already). Two queries, each answered by its own index."""
    entry = QuarantinedRecord
    mine = (entry.client_id == tenant.client_id, entry.livemode == tenant.livemode)
    found: dict[str, QuarantinedRecord] = {}
    if footprint.staged:
        query = select(entry).where(
            *mine, at_positions(entry.job_id, entry.position, footprint.staged)
        )
        found |= {row.id: row for row in (await session.scalars(query)).all()}
    ids = sorted({external_id for _, external_id in footprint.pairs})
    if ids:
        query = select(entry).where(*mine, entry.external_id.in_(ids), entry.entity == AUDIENCE)
        pairs = set(footprint.pairs)
        found |= {
            row.id: row
            for row in (await session.scalars(query)).all()
            if (row.source_platform or "", row.external_id) in pairs
        }
    return [found[key] for key in sorted(found)]


# What a platform calls the people it sends events about (webhook notices' object_type, from the
# topic): an id of another kind of object (a product) is not this person even when it is equal.
PERSON_OBJECTS = frozenset(
    {"audience", "contact", "contacts", "customer", "customers", "lead", "leads", "person"}
    | {"people", "subscriber", "subscribers", "user", "users"}
)


async def find_notices(session: AsyncSession, tenant: Tenant, footprint: Footprint) -> list[str]:
    """Webhook notices whose body holds one of the person's emails, or that name one of their
    (platform, external id) pairs as the object of a person-kind event. Two indexed queries."""
    notice = WebhookNotice
    mine = (notice.client_id == tenant.client_id, notice.livemode == tenant.livemode)
    found: set[str] = set()
    if footprint.emails:
        emails: BindParameter[list[str]] = bindparam(
            "notice_emails", sorted(set(footprint.emails)), expanding=True
        )
        matched = select(notice.id).where(*mine, _expression(session, NOTICE_EMAIL).in_(emails))
        found |= set((await session.scalars(matched)).all())
    if footprint.pairs:
        by_platform: dict[str, list[str]] = defaultdict(list)
        for platform, external_id in sorted(set(footprint.pairs)):
            by_platform[platform].append(external_id)
        named = [  # one indexed search per platform (SQLite scans for a row-value IN)
            and_(notice.source == platform, notice.object_id.in_(ids))
            for platform, ids in by_platform.items()
        ]
        rows = await session.execute(
            select(notice.id, notice.object_type).where(*mine, or_(*named))
        )
        for notice_id, object_type in rows:
            if (object_type or "audience").lower() in PERSON_OBJECTS:
                found.add(notice_id)
    return sorted(found)


async def find_history(session: AsyncSession, tenant: Tenant, pairs: list[Pair]) -> list[str]:
    """The record history (app.records.resolutions) of the person's records."""
    if not pairs:
        return []
    resolution = RecordResolution
    query = select(resolution.id).where(
        resolution.client_id == tenant.client_id,
        resolution.livemode == tenant.livemode,
        resolution.entity == AUDIENCE,
        tuple_(resolution.source_platform, resolution.external_id).in_(pairs),
    )
    return sorted((await session.scalars(query)).all())


async def find_sync_records(
    session: AsyncSession, tenant: Tenant, pairs: list[Pair]
) -> list[AmsSyncRecord]:
    if not pairs:
        return []
    synced = AmsSyncRecord
    query = select(synced).where(
        synced.client_id == tenant.client_id,
        synced.livemode == tenant.livemode,
        synced.entity == AUDIENCE,
        tuple_(synced.source_platform, synced.external_id).in_(pairs),
    )
    return list((await session.scalars(query)).all())


KeyedRows = type[ArchivedRecord] | type[AmsRecordRetry]


async def find_keyed(
    session: AsyncSession, tenant: Tenant, model: KeyedRows, pairs: list[Pair]
) -> list[Pair]:
    """Rows about the person's records keyed by (platform, external id), by that key: the
    archivals of their records (app.ams.archival) and the AMS retries (app.ams.retries)."""
    if not pairs:
        return []
    query = select(model.source_platform, model.external_id).where(
        model.client_id == tenant.client_id,
        model.livemode == tenant.livemode,
        model.entity == AUDIENCE,
        at_pairs(model.source_platform, model.external_id, pairs),
    )
    return sorted((row[0], row[1]) for row in await session.execute(query))


async def find_mismatches(
    session: AsyncSession, tenant: Tenant, pairs: list[Pair], airtable_records: list[str]
) -> list[str]:
    """Reconciliation mismatches of the tenant's audience runs naming one of the person's
    records or Airtable rows (an extra row may have no external id). Reached through the runs'
    (tenant, entity) index, then the mismatches' run index."""
    named = []
    if pairs:
        named.append(
            tuple_(ReconciliationMismatch.source_platform, ReconciliationMismatch.external_id).in_(
                pairs
            )
        )
    if airtable_records:
        named.append(ReconciliationMismatch.airtable_record_id.in_(sorted(set(airtable_records))))
    if not named:
        return []
    run = ReconciliationRun
    query = (
        select(ReconciliationMismatch.id)
        .join(run, run.id == ReconciliationMismatch.run_id)
        .where(run.client_id == tenant.client_id, run.livemode == tenant.livemode)
        .where(run.entity == AUDIENCE, or_(*named))
    )
    return sorted((await session.scalars(query)).all())


async def resolve(session: AsyncSession, tenant: Tenant, subject: Subject) -> Footprint:
    footprint = Footprint()
    for record in await find_canonical(session, tenant, subject):
        footprint.canonical.append(record.id)
        footprint.pairs.append((record.source_platform, record.external_id))
        for values, key in ((footprint.emails, "email"), (footprint.phones, "phone")):
            value = record.data.get(key)
            if isinstance(value, str) and value not in values:
                values.append(value)
    if subject.kind is IdentifierKind.EMAIL and subject.value not in footprint.emails:
        footprint.emails.append(subject.value)
    if subject.kind is IdentifierKind.EXTERNAL_ID and subject.platform is not None:
        pair = (subject.platform.value, subject.value)
        if pair not in footprint.pairs:
            footprint.pairs.append(pair)
    for match in await find_staged(session, tenant, subject, footprint):
        footprint.staged.append(match.position)
        if match.external_id is not None:
            found = (match.platform or "", match.external_id)
            if found not in footprint.pairs:
                footprint.pairs.append(found)
        job_id = match.position[0]
        if match.idempotency_key is not None and job_id not in footprint.keyed_jobs:
            footprint.keyed_jobs.append(job_id)
    entries = await find_quarantine(session, tenant, footprint)
    footprint.quarantine = [entry.id for entry in entries]
    footprint.positions = sorted(
        set(footprint.staged) | {(entry.job_id, entry.position) for entry in entries}
    )
    footprint.history = await find_history(session, tenant, footprint.pairs)
    footprint.notices = await find_notices(session, tenant, footprint)
    for synced in await find_sync_records(session, tenant, footprint.pairs):
        footprint.sync_records.append(synced.id)
        row = synced.airtable_record_id
        # Linked records share one merged AMS row (app.ams.identity_rows): deleted once.
        if row and row not in footprint.airtable_records:
            footprint.airtable_records.append(row)
    footprint.archived = await find_keyed(session, tenant, ArchivedRecord, footprint.pairs)
    footprint.retries = await find_keyed(session, tenant, AmsRecordRetry, footprint.pairs)
    footprint.mismatches = await find_mismatches(
        session, tenant, footprint.pairs, footprint.airtable_records
    )
    return footprint
