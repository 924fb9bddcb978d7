"""The AMS sync as partners see it: per entity the last successful sync and its counts, and per
record what happened to it in Airtable (rejections carry Airtable's error type and message)."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.ams import service as ams
from app.ams.models import AmsSyncRecord as RecordSyncRow
from app.ams.models import AmsSyncState as SyncStateRow
from app.ams.models import RecordSyncStatus
from app.api.graphql.types import PageInfo
from app.contracts.entities import Entity
from app.db.engine import reading
from app.tenancy.models import Tenant

strawberry.enum(
    RecordSyncStatus,
    description="SYNCED: the record is in the AMS as it is stored here. REJECTED: Airtable "
    "refused it (see errorType and errorMessage); it is written again when it changes. "
    "EXHAUSTED: it failed for a transient reason (Airtable unavailable, timeouts) until its "
    "retries ran out; it is quarantined (EXHAUSTED) and written again when it changes or is "
    "replayed.",
)


@strawberry.type(description="When records from one source platform were last synced.")
class AmsPlatformSync:
    platform: str
    last_synced_at: datetime


@strawberry.type(description="The AMS sync of one entity (one Airtable table).")
class AmsEntitySync:
    entity: Entity
    last_synced_at: datetime | None = strawberry.field(
        description="When the last successful sync finished; null before the first."
    )
    written: int = strawberry.field(description="Records the last sync wrote to Airtable.")

    @strawberry.field(
        description="Records already in Airtable as they are: nothing was sent for them."
    )
    async def unchanged(self, info: Info) -> int:
        async with reading(info.context.services.sessions) as session:
            return await ams.unchanged_count(session, self.tenant, self.row)

    rejected: int = strawberry.field(description="Records Airtable refused in the last sync.")
    airtable_requests: int = strawberry.field(description="Requests the last sync made.")
    pending: bool = strawberry.field(
        description="True while newer changes wait for a sync (it runs on its own)."
    )
    error: str | None = strawberry.field(description="Why the last try failed, if it did.")
    platforms: list[AmsPlatformSync]
    failures: int = strawberry.field(
        description="Failed tries in a row; 0 after a successful sync."
    )
    next_retry_at: datetime | None = strawberry.field(
        description="After failures: the sync is not tried again before this time (backoff); "
        "null when no retry is waiting."
    )
    tenant: strawberry.Private[Tenant]
    row: strawberry.Private[SyncStateRow]

    @classmethod
    def from_row(cls, row: SyncStateRow, tenant: Tenant) -> "AmsEntitySync":
        return cls(
            tenant=tenant,
            row=row,
            entity=Entity(row.entity),
            last_synced_at=row.last_synced_at,
            written=row.written,
            rejected=row.rejected,
            airtable_requests=row.requests,
            pending=row.due_seq > row.done_seq,
            error=row.error,
            failures=row.failures or 0,
            next_retry_at=row.retry_at,
            platforms=[
                AmsPlatformSync(platform=p, last_synced_at=datetime.fromisoformat(at))
                for p, at in sorted(row.platforms.items())
            ],
        )


@strawberry.type(description="One record's state in the AMS.")
class AmsRecordSync:
    entity: Entity
    source_platform: str
    external_id: str
    status: RecordSyncStatus
    airtable_record_id: str | None
    error_type: str | None = strawberry.field(
        description="Airtable's error type, e.g. INVALID_MULTIPLE_CHOICE_OPTIONS."
    )
    error_message: str | None = strawberry.field(description="Airtable's message, verbatim.")
    synced_at: datetime | None = strawberry.field(description="Last written to Airtable.")
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RecordSyncRow) -> "AmsRecordSync":
        return cls(
            entity=Entity(row.entity),
            source_platform=row.source_platform,
            external_id=row.external_id,
            status=RecordSyncStatus(row.status),
            airtable_record_id=row.airtable_record_id,
            error_type=row.error_type,
            error_message=row.error_message,
            synced_at=row.synced_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class AmsRecordSyncConnection:
    nodes: list[AmsRecordSync]
    page_info: PageInfo


@strawberry.type(description="How the client's records reach its AMS.")
class AmsSync:
    entities: list[AmsEntitySync]
    tenant: strawberry.Private[Tenant]

    @strawberry.field(description="Records by sync status, e.g. status: REJECTED.")
    async def records(
        self,
        info: Info,
        status: RecordSyncStatus | None = None,
        entity: Entity | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> AmsRecordSyncConnection:
        async with reading(info.context.services.sessions) as session:
            page = await ams.list_record_syncs(session, self.tenant, status, entity, first, after)
        return AmsRecordSyncConnection(
            nodes=[AmsRecordSync.from_row(row) for row in page.items],
            page_info=PageInfo.of(page),
        )


async def ams_sync_of(info: Info, tenant: Tenant) -> AmsSync:
    async with reading(info.context.services.sessions) as session:
        states = await ams.sync_states(session, tenant)
    return AmsSync(entities=[AmsEntitySync.from_row(row, tenant) for row in states], tenant=tenant)
