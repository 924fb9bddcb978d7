"""Partners report their own syncs and connection health; clients and operators (naming the
client) read the summary."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.types import UserError
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import GatewayError
from app.partner_reports import service as reports
from app.partner_reports.models import ConnectionHealth as HealthRow
from app.partner_reports.models import ConnectionStatus
from app.partner_reports.models import SyncRun as SyncRunRow
from app.tenancy import policy

strawberry.enum(ConnectionStatus, description="How a partner's connection to a platform is.")


@strawberry.input
class ReportedErrorInput:
    code: str
    message: str
    external_id: str | None = None


@strawberry.input
class ReportSyncRunInput:
    platform: SourcePlatform
    entity: Entity
    started_at: datetime
    finished_at: datetime
    records_sent: int
    errors: list[ReportedErrorInput] = strawberry.field(default_factory=list)


@strawberry.input
class ReportConnectionHealthInput:
    platform: SourcePlatform
    status: ConnectionStatus
    detail: str | None = None


@strawberry.type(description="A sync run the partner reported.")
class SyncRun:
    id: strawberry.ID
    platform: SourcePlatform
    entity: Entity
    started_at: datetime
    finished_at: datetime
    records_sent: int
    error_count: int
    errors: list[UserError] = strawberry.field(description="The first 50 reported errors.")

    @classmethod
    def from_row(cls, row: SyncRunRow) -> "SyncRun":
        return cls(
            id=strawberry.ID(row.id),
            platform=SourcePlatform(row.platform),
            entity=Entity(row.entity),
            started_at=row.started_at,
            finished_at=row.finished_at,
            records_sent=row.records_sent,
            error_count=row.error_count,
            errors=[
                UserError(code=e["code"], message=e["message"], path=e.get("external_id"))
                for e in row.errors
            ],
        )


@strawberry.type(description="The latest reported health of one platform connection.")
class ConnectionHealth:
    platform: SourcePlatform
    status: ConnectionStatus
    detail: str | None
    since: datetime = strawberry.field(description="When this status began.")
    reported_at: datetime

    @classmethod
    def from_row(cls, row: HealthRow) -> "ConnectionHealth":
        return cls(
            platform=SourcePlatform(row.platform),
            status=ConnectionStatus(row.status),
            detail=row.detail,
            since=row.since,
            reported_at=row.reported_at,
        )


@strawberry.type(description="Sync health of one platform: connection, last runs, error count.")
class PlatformSyncHealth:
    platform: SourcePlatform
    connection: ConnectionHealth | None
    last_runs: list[SyncRun] = strawberry.field(description="The latest run per entity.")
    errors_last_24h: int


@strawberry.type
class SyncRunPayload:
    sync_run: SyncRun | None
    errors: list[UserError]


@strawberry.type
class ConnectionHealthPayload:
    connection: ConnectionHealth | None
    errors: list[UserError]


@strawberry.type
class PartnerReportsQuery:
    @strawberry.field(
        permission_classes=[allowed(policy.READ)],
        description="Per platform: connection health, the last sync run per entity and errors "
        "reported in the last 24 hours. Operators name the client (Gateway-Client header).",
    )
    async def sync_health(self, info: Info) -> list[PlatformSyncHealth]:
        tenant = info.context.principal.tenant
        async with reading(info.context.services.sessions) as session:
            found = await reports.sync_health(session, tenant)
        return [
            PlatformSyncHealth(
                platform=SourcePlatform(item.platform),
                connection=ConnectionHealth.from_row(item.health) if item.health else None,
                last_runs=[SyncRun.from_row(run) for run in item.last_runs],
                errors_last_24h=item.errors_last_24h,
            )
            for item in found
        ]


@strawberry.type
class PartnerReportsMutation:
    @strawberry.mutation(
        permission_classes=[allowed(policy.INGEST)],
        description="Report a sync run made on the partner's side (what was sent, what failed).",
    )
    async def report_sync_run(self, info: Info, input: ReportSyncRunInput) -> SyncRunPayload:
        report = reports.SyncRunReport(
            platform=input.platform,
            entity=input.entity,
            started_at=input.started_at,
            finished_at=input.finished_at,
            records_sent=input.records_sent,
            errors=[reports.ReportedError(e.code, e.message, e.external_id) for e in input.errors],
        )
        try:
            async with info.context.services.sessions() as session, session.begin():
                run = await reports.report_sync_run(session, info.context.principal, report)
        except GatewayError as error:
            return SyncRunPayload(
                sync_run=None,
                errors=UserError.all_from(error),
            )
        return SyncRunPayload(sync_run=SyncRun.from_row(run), errors=[])

    @strawberry.mutation(
        permission_classes=[allowed(policy.INGEST)],
        description="Report the health of the partner's connection to a platform. A change to "
        "STALE, REVOKED or ERROR raises an alert for Digicon's operators.",
    )
    async def report_connection_health(
        self, info: Info, input: ReportConnectionHealthInput
    ) -> ConnectionHealthPayload:
        tenant = info.context.principal.tenant
        async with info.context.services.sessions() as session, session.begin():
            change = await reports.report_connection_health(
                session, tenant, input.platform, input.status, input.detail
            )
            connection = ConnectionHealth.from_row(change.health)
        return ConnectionHealthPayload(connection=connection, errors=[])
