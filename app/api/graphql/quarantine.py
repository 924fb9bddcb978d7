"""GraphQL for the quarantine: list and read held records, fix, replay and discard them."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import PageInfo, Record, UserError, archivals
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import GatewayError
from app.privacy.masking import reveals_personal
from app.quarantine import service as quarantine
from app.quarantine.models import QuarantineStage, QuarantineStatus
from app.quarantine.service import FixResult, HeldRecord, QuarantineFilter
from app.tenancy import policy
from app.tenancy.models import Principal

if TYPE_CHECKING:
    from app.api.graphql.schema import Job

strawberry.enum(
    QuarantineStatus,
    description="OPEN: waiting for a fix, replay or discard; RESOLVED: passed and stored; "
    "DISCARDED: given up on (kept); EXHAUSTED: retries for a transient failure ran out.",
)

strawberry.enum(
    QuarantineStage,
    description="Where a record failed. INGEST: mapping, the contract or a rule (its raw input "
    "is staged). AMS: the client's AMS (Airtable) refused the stored canonical record.",
)

READING = [allowed(policy.READ)]
WRITING = [allowed(policy.QUARANTINE_WRITE)]


@strawberry.type(description="Why a quarantined record is held: one failure.")
class QuarantineError:
    code: str
    message: str
    path: str = strawberry.field(
        description="Field path in the standard record (mapping errors: the native field)."
    )
    rule_id: str | None = strawberry.field(description="The validation rule that failed.")
    value: str | None = strawberry.field(
        description="The offending value (JSON text for numbers and booleans); personal data "
        "(e.g. audience email, phone, names) is masked."
    )

    @classmethod
    def of(cls, error: dict[str, Any]) -> "QuarantineError":
        value = error.get("value")
        text = value if isinstance(value, str) or value is None else orjson.dumps(value).decode()
        return cls(
            code=error["code"],
            message=error["message"],
            path=error["path"],
            rule_id=error.get("rule_id"),
            value=text,
        )


def _platform(value: str | None) -> SourcePlatform | None:
    """A record too broken to name a known platform has none."""
    try:
        return SourcePlatform(value) if value is not None else None
    except ValueError:
        return None


@strawberry.type(
    description="A record held back by mapping, the contract or a rule (stage INGEST), or "
    "refused by the client's AMS (stage AMS)."
)
class QuarantinedRecord:
    id: strawberry.ID
    entity: Entity
    platform: SourcePlatform | None = strawberry.field(description="Where the record came from.")
    external_id: str | None
    status: QuarantineStatus
    job_id: strawberry.ID = strawberry.field(
        description="The ingest job that brought it (stage AMS: the job that brought the "
        "record's current content)."
    )
    index: int = strawberry.field(
        description="Its position in that job's request; -1 for stage AMS (no raw input)."
    )
    raw: JSONObject | None = strawberry.field(
        description="The record exactly as received (audience records: personal values masked "
        "unless the key holds the pii:read scope); null for stage AMS: see mapped."
    )
    mapped: JSONObject | None = strawberry.field(
        description="The standard-shaped attempt: mapped from a platform's shape (ingestRaw) "
        "or as the last fix left it; null when that is the raw record itself. Stage AMS: the "
        "stored canonical record the AMS refused (or as the last fix left it)."
    )
    errors: list[QuarantineError] = strawberry.field(description="Every current failure.")
    fixes: list[JSONObject] = strawberry.field(description="Merge patches applied, in order.")
    attempts: int = strawberry.field(description="How many times it was validated.")
    replay_job_id: strawberry.ID | None = strawberry.field(description="The last replay's job.")
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    discarded_at: datetime | None
    discarded_by: str | None = strawberry.field(description="The API key that discarded it.")
    stage: QuarantineStage = strawberry.field(
        description="INGEST: failed on the way in; AMS: refused by the client's AMS (index -1, "
        "raw null; fixing or replaying it sends the record to the AMS again)."
    )

    @classmethod
    def of(cls, held: HeldRecord) -> "QuarantinedRecord":
        entry = held.entry
        return cls(
            id=strawberry.ID(entry.id),
            entity=Entity(entry.entity),
            platform=_platform(entry.source_platform),
            external_id=entry.external_id,
            status=QuarantineStatus(entry.status),
            job_id=strawberry.ID(entry.job_id),
            index=entry.position,
            raw=JSONObject(held.raw),
            mapped=JSONObject(held.mapped) if held.mapped is not None else None,
            errors=[QuarantineError.of(error) for error in entry.errors],
            fixes=[JSONObject(patch) for patch in held.fixes],
            attempts=entry.attempts,
            replay_job_id=strawberry.ID(entry.replay_job_id) if entry.replay_job_id else None,
            created_at=entry.created_at,
            updated_at=entry.updated_at,
            resolved_at=entry.resolved_at,
            discarded_at=entry.discarded_at,
            discarded_by=entry.discarded_by,
            stage=QuarantineStage(entry.stage),
        )


@strawberry.type
class QuarantineConnection:
    nodes: list[QuarantinedRecord]
    page_info: PageInfo


@strawberry.input(description="Which quarantined records; every given condition must hold.")
class QuarantineFilterInput:
    entity: Entity | None = None
    platform: SourcePlatform | None = None
    rule_id: str | None = strawberry.field(default=None, description="Failed this rule.")
    job_id: strawberry.ID | None = strawberry.field(default=None, description="Came with it.")
    status: QuarantineStatus | None = strawberry.field(
        default=None, description="Any status when not given."
    )

    def domain(self) -> QuarantineFilter:
        return QuarantineFilter(
            entity=self.entity,
            platform=self.platform.value if self.platform else None,
            rule_id=self.rule_id,
            job_id=str(self.job_id) if self.job_id is not None else None,
            status=self.status,
        )


@strawberry.type(description="The answer to fixQuarantinedRecord.")
class FixQuarantinedRecordPayload:
    quarantined_record: QuarantinedRecord | None = strawberry.field(
        description="RESOLVED when the fix passed; still OPEN, with the new errors, when not."
    )
    record: Record | None = strawberry.field(
        description="The stored record, when it passed (a WooCommerce variation: its parent "
        "product, whose variants it updated)."
    )
    outcome: str | None = strawberry.field(
        description="What the store did: written, unchanged, stale (a newer record is "
        "stored: an older source_updated_at never overwrites it), or held (a variation whose "
        "parent product is not stored yet: applied when the parent arrives)."
    )
    errors: list[UserError]


@strawberry.type(description="The answer to replayQuarantined.")
class ReplayQuarantinedPayload:
    jobs: list[Annotated["Job", strawberry.lazy("app.api.graphql.schema")]] = strawberry.field(
        description="The jobs re-running the records (one per entity and platform shape); "
        "records that pass become RESOLVED, the others stay OPEN with their new errors."
    )
    replayed: int = strawberry.field(
        description="How many records are being replayed by the jobs (stage INGEST)."
    )
    errors: list[UserError]
    resent: int = strawberry.field(
        description="How many records the AMS refused (stage AMS) are sent to it again: they "
        "have no raw input to re-run, so no job; the next AMS sync writes them (RESOLVED) or "
        "they stay OPEN with the AMS's new errors."
    )


@strawberry.type(description="The answer to discardQuarantined.")
class DiscardQuarantinedPayload:
    discarded: int
    errors: list[UserError]


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


def _reveals_personal(info: Info) -> bool:
    return reveals_personal(_principal(info))


def _selection(
    ids: list[strawberry.ID] | None, filter: QuarantineFilterInput | None
) -> tuple[list[str] | None, QuarantineFilter | None]:
    return ([str(i) for i in ids] if ids is not None else None), (
        filter.domain() if filter is not None else None
    )


def _fixed(
    result: FixResult, reveal: bool, archived: dict[str, datetime]
) -> FixQuarantinedRecordPayload:
    stored = result.record
    return FixQuarantinedRecordPayload(
        quarantined_record=QuarantinedRecord.of(result.held),
        record=Record.from_row(stored, reveal, archived.get(stored.id)) if stored else None,
        outcome=result.outcome.value if result.outcome is not None else None,
        errors=[],
    )


@strawberry.type
class QuarantineQuery:
    @strawberry.field(
        permission_classes=READING,
        description="Records held back with their errors, oldest first.",
    )
    async def quarantine(
        self,
        info: Info,
        filter: QuarantineFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> QuarantineConnection:
        where = filter.domain() if filter is not None else QuarantineFilter()
        async with reading(info.context.services.sessions) as session:
            page = await quarantine.list_quarantine(
                session, _principal(info).tenant, where, first, after, _reveals_personal(info)
            )
        return QuarantineConnection(
            nodes=[QuarantinedRecord.of(held) for held in page.items],
            page_info=PageInfo.of(page),
        )

    @strawberry.field(
        permission_classes=READING,
        description="One quarantined record; null when there is no such record.",
    )
    async def quarantined_record(self, info: Info, id: strawberry.ID) -> QuarantinedRecord | None:
        async with reading(info.context.services.sessions) as session:
            try:
                held = await quarantine.get_quarantined(
                    session, _principal(info).tenant, str(id), _reveals_personal(info)
                )
            except GatewayError:
                return None
        return QuarantinedRecord.of(held)


@strawberry.type
class QuarantineMutation:
    @strawberry.mutation(
        permission_classes=WRITING,
        description="Correct a quarantined record with a JSON merge patch on its standard-shaped "
        'form (e.g. {"sku": "LS-001"}; null removes a field) and validate it again. '
        "When it passes it is stored like an ingested record and the entry is RESOLVED.",
    )
    async def fix_quarantined_record(
        self, info: Info, id: strawberry.ID, patch: JSONObject
    ) -> FixQuarantinedRecordPayload:
        try:
            async with info.context.services.sessions() as session, session.begin():
                result = await quarantine.fix_quarantined(
                    session,
                    _principal(info).tenant,
                    str(id),
                    patch,
                    _reveals_personal(info),
                    settings=info.context.services.settings,
                )
                stored = [result.record] if result.record is not None else []
                archived = await archivals(session, stored)
                payload = _fixed(result, _reveals_personal(info), archived)
        except GatewayError as error:
            return FixQuarantinedRecordPayload(
                quarantined_record=None, record=None, outcome=None, errors=UserError.all_from(error)
            )
        return payload

    @strawberry.mutation(
        permission_classes=WRITING,
        description="Map (from the raw input) and validate OPEN quarantined records again, e.g. "
        "after a mapping or rule change; give ids or a filter. Returns the jobs at once. "
        "Records the AMS refused (stage AMS) are sent to the AMS again, without a job.",
    )
    async def replay_quarantined(
        self,
        info: Info,
        ids: list[strawberry.ID] | None = None,
        filter: QuarantineFilterInput | None = None,
    ) -> ReplayQuarantinedPayload:
        from app.api.graphql.schema import Job

        services = info.context.services
        try:
            async with services.sessions() as session, session.begin():
                done = await quarantine.replay(session, _principal(info), *_selection(ids, filter))
        except GatewayError as error:
            return ReplayQuarantinedPayload(
                jobs=[], replayed=0, errors=UserError.all_from(error), resent=0
            )
        await services.dispatcher.dispatch([job.id for job in done.jobs])
        return ReplayQuarantinedPayload(
            jobs=[Job.from_row(job) for job in done.jobs],
            replayed=sum(job.received for job in done.jobs),
            errors=[],
            resent=done.resent,
        )

    @strawberry.mutation(
        permission_classes=WRITING,
        description="Give up on OPEN quarantined records (ids or a filter): they are kept as "
        "DISCARDED with who and when, never deleted.",
    )
    async def discard_quarantined(
        self,
        info: Info,
        ids: list[strawberry.ID] | None = None,
        filter: QuarantineFilterInput | None = None,
    ) -> DiscardQuarantinedPayload:
        try:
            async with info.context.services.sessions() as session, session.begin():
                count = await quarantine.discard_quarantined(
                    session, _principal(info), *_selection(ids, filter)
                )
        except GatewayError as error:
            return DiscardQuarantinedPayload(discarded=0, errors=UserError.all_from(error))
        return DiscardQuarantinedPayload(discarded=count, errors=[])
