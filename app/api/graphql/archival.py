"""Records deleted at their source: archive them (`archiveRecords`), or run a full resync pass
(`requestFullResync`, push everything the source has, `completeFullResync`) that archives what
it did not see. Archived records stay readable; their AMS rows get the Archived column checked."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.ams import archival
from app.ams.models import FullResync as FullResyncRow
from app.api.graphql.permissions import allowed
from app.api.graphql.types import UserError
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import GatewayError
from app.tenancy import policy
from app.tenancy.models import Tenant

INGESTING = [allowed(policy.INGEST)]
READING = [allowed(policy.READ)]


@strawberry.input(description="One stored record, by its source identity.")
class RecordKeyInput:
    source_platform: SourcePlatform
    external_id: str


@strawberry.input
class ArchiveRecordsInput:
    entity: Entity
    records: list[RecordKeyInput] = strawberry.field(
        description=f"At most {archival.MAX_ARCHIVED_PER_CALL} records deleted at their source."
    )


@strawberry.type(description="The answer to archiveRecords.")
class ArchiveRecordsPayload:
    archived: int = strawberry.field(
        description="Records archived now (already archived ones are not counted again)."
    )
    errors: list[UserError] = strawberry.field(
        description="Per record (path records[i]): not_found when no such record is stored; "
        "the others are archived all the same."
    )


@strawberry.type(description="A full resync pass over one entity.")
class FullResync:
    id: strawberry.ID
    entity: Entity
    status: str = strawberry.field(description="OPEN while records are pushed, then COMPLETED.")
    started_at: datetime
    completed_at: datetime | None
    seen: int = strawberry.field(description="Records the pass's jobs brought (on completion).")
    archived: int = strawberry.field(description="Records it archived (on completion).")

    @classmethod
    def from_row(cls, row: FullResyncRow) -> "FullResync":
        return cls(
            id=strawberry.ID(row.id),
            entity=Entity(row.entity),
            status=row.status,
            started_at=row.started_at,
            completed_at=row.completed_at,
            seen=row.seen,
            archived=row.archived,
        )


@strawberry.type
class FullResyncPayload:
    full_resync: FullResync | None
    errors: list[UserError]


def _tenant(info: Info) -> Tenant:
    tenant: Tenant = info.context.principal.tenant
    return tenant


@strawberry.type
class ArchivalQuery:
    @strawberry.field(permission_classes=READING, description="The latest full resync passes.")
    async def full_resyncs(
        self, info: Info, entity: Entity | None = None, first: int = 20
    ) -> list[FullResync]:
        async with reading(info.context.services.sessions) as session:
            found = await archival.list_full_resyncs(
                session, _tenant(info), entity, max(1, min(first, 100))
            )
        return [FullResync.from_row(row) for row in found]


@strawberry.type
class ArchivalMutation:
    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Records deleted at their source: archived (kept, not deleted) and shown as "
        "Archived in the AMS. Pushing a record again with a newer sourceUpdatedAt revives it.",
    )
    async def archive_records(
        self, info: Info, input: ArchiveRecordsInput
    ) -> ArchiveRecordsPayload:
        keys = [(r.source_platform.value, r.external_id) for r in input.records]
        try:
            async with info.context.services.sessions() as session, session.begin():
                outcome = await archival.archive_records(session, _tenant(info), input.entity, keys)
        except GatewayError as error:
            return ArchiveRecordsPayload(archived=0, errors=UserError.all_from(error))
        errors = [UserError.from_field_error(problem) for problem in outcome.errors]
        return ArchiveRecordsPayload(archived=outcome.archived, errors=errors)

    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Open a full resync pass over an entity (the open one if there is one): push "
        "every record the source has, then call completeFullResync.",
    )
    async def request_full_resync(self, info: Info, entity: Entity) -> FullResyncPayload:
        async with info.context.services.sessions() as session, session.begin():
            row = await archival.request_full_resync(session, _tenant(info), entity)
            return FullResyncPayload(full_resync=FullResync.from_row(row), errors=[])

    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Complete the open pass: records of the entity no job created during the pass "
        "brought are archived; archived ones it brought are alive again. Refused "
        "(resync_jobs_running) while a job of the pass is still running.",
    )
    async def complete_full_resync(self, info: Info, entity: Entity) -> FullResyncPayload:
        try:
            async with info.context.services.sessions() as session, session.begin():
                row = await archival.complete_full_resync(session, _tenant(info), entity)
                done = FullResync.from_row(row)
        except GatewayError as error:
            return FullResyncPayload(full_resync=None, errors=UserError.all_from(error))
        return FullResyncPayload(full_resync=done, errors=[])
