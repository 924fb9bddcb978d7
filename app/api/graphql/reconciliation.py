"""GraphQL for the AMS reconciliation audit: operators run it (`reconcile`, optionally repairing)
and read runs with their mismatches; a client sees its latest run per entity (viewer)."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.ams.due import claim_due_syncs
from app.api.graphql.permissions import allowed
from app.api.graphql.types import PageInfo, UserError
from app.contracts.entities import Entity
from app.db.engine import reading
from app.errors import GatewayError
from app.reconciliation import queries
from app.reconciliation.models import (
    MismatchKind,
    ReconciliationMismatch,
    ReconciliationRun,
    RunStatus,
    RunTrigger,
)
from app.reconciliation.service import ReconcileRequest, reconcile
from app.tenancy import service as tenancy
from app.tenancy.models import Principal, Scope, Tenant
from app.tenancy.policy import Requirement

READ_RECONCILIATION = Requirement(Scope.AUDIT_READ, operators_only=True)
RUN_RECONCILIATION = Requirement(Scope.ADMIN, operators_only=True)

MismatchKindType = strawberry.enum(
    MismatchKind,
    name="ReconciliationMismatchKind",
    description="MISSING: a synced record has no row; EXTRA: a row the gateway does not know "
    "(full runs); DUPLICATE: a second row with the same External ID and Source; FIELD: columns "
    "differ from the record's mapped values.",
)

StatusType = strawberry.enum(
    RunStatus,
    name="ReconciliationStatus",
    description="SUCCEEDED: the base was read and compared; FAILED: it could not be (see error).",
)
TriggerType = strawberry.enum(
    RunTrigger,
    name="ReconciliationTrigger",
    description="SCHEDULED: the daily audit; OPERATOR: the reconcile mutation.",
)


@strawberry.type(
    description="One difference an audit found. Values are never stored: compare the record "
    "(records query) with the base."
)
class ReconciliationMismatchNode:
    id: strawberry.ID
    kind: MismatchKindType  # type: ignore[valid-type]
    source_platform: str | None
    external_id: str | None
    airtable_record_id: str | None = strawberry.field(description="The row concerned, if any.")
    columns: list[str] = strawberry.field(description="FIELD: the Airtable columns that differ.")

    @classmethod
    def from_row(cls, row: ReconciliationMismatch) -> "ReconciliationMismatchNode":
        return cls(
            id=strawberry.ID(row.id),
            kind=MismatchKind(row.kind),
            source_platform=row.source_platform,
            external_id=row.external_id,
            airtable_record_id=row.airtable_record_id,
            columns=list(row.columns),
        )


@strawberry.type
class ReconciliationMismatchConnection:
    nodes: list[ReconciliationMismatchNode]
    page_info: PageInfo


@strawberry.type(description="What an audit of one entity's AMS table found, in counts.")
class ReconciliationSummary:
    id: strawberry.ID
    entity: Entity
    full: bool = strawberry.field(description="Every record compared (else a random sample).")
    status: StatusType  # type: ignore[valid-type]
    error: str | None
    checked: int = strawberry.field(description="Records compared.")
    population: int = strawberry.field(description="Synced records that could be compared.")
    pending: int = strawberry.field(description="Full runs: records not judged (sync pending).")
    missing: int
    extra: int
    duplicate: int
    field: int = strawberry.field(description="Records with at least one differing column.")
    started_at: datetime
    finished_at: datetime

    @classmethod
    def values(cls, row: ReconciliationRun) -> dict[str, object]:
        return {
            "id": strawberry.ID(row.id),
            "entity": Entity(row.entity),
            **{name: getattr(row, name) for name in SUMMARY},
            "status": RunStatus(row.status),
        }

    @classmethod
    def from_row(cls, row: ReconciliationRun) -> "ReconciliationSummary":
        return cls(**cls.values(row))  # type: ignore[arg-type]


SUMMARY = (
    "full",
    "error",
    "checked",
    "population",
    "pending",
    "missing",
    "extra",
    "duplicate",
    "field",
    "started_at",
    "finished_at",
)


@strawberry.type(description="A reconciliation run, for operators.")
class ReconciliationRunNode(ReconciliationSummary):
    client_id: strawberry.ID
    repair: bool
    trigger: TriggerType  # type: ignore[valid-type]
    rows_read: int = strawberry.field(description="Rows read from the base.")
    requeued: int = strawberry.field(description="Repair: records the AMS sync rewrites.")
    deleted: int = strawberry.field(description="Repair: duplicate rows deleted.")
    airtable_requests: int
    row: strawberry.Private[ReconciliationRun]

    @strawberry.field(description="What the run found, in order.")
    async def mismatches(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> ReconciliationMismatchConnection:
        async with reading(info.context.services.sessions) as session:
            page = await queries.list_mismatches(session, self.row, first, after)
        return ReconciliationMismatchConnection(
            nodes=[ReconciliationMismatchNode.from_row(m) for m in page.items],
            page_info=PageInfo.of(page),
        )

    @classmethod
    def of(cls, row: ReconciliationRun) -> "ReconciliationRunNode":
        return cls(
            **ReconciliationSummary.values(row),  # type: ignore[arg-type]
            client_id=strawberry.ID(row.client_id),
            repair=row.repair,
            trigger=RunTrigger(row.trigger),
            rows_read=row.rows_read,
            requeued=row.requeued,
            deleted=row.deleted,
            airtable_requests=row.airtable_requests,
            row=row,
        )


@strawberry.type
class ReconciliationRunConnection:
    nodes: list[ReconciliationRunNode]
    page_info: PageInfo


@strawberry.input(description="Which client's AMS table to audit, and how.")
class ReconcileInput:
    client: strawberry.ID = strawberry.field(description="The client (cli_…), in the key's mode.")
    entity: Entity
    full: bool = strawberry.field(
        default=False,
        description="Compare every record (and find rows the gateway does not know); else a "
        "sample large enough to catch a 1% mismatch rate with 95% confidence.",
    )
    repair: bool = strawberry.field(
        default=False,
        description="Delete duplicate rows and have the AMS sync rewrite missing rows and "
        "differing columns; a later run shows the result.",
    )


@strawberry.type(description="The answer to reconcile.")
class ReconcilePayload:
    run: ReconciliationRunNode | None
    errors: list[UserError]


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


async def _tenant(info: Info, client: str) -> Tenant:
    """The named client in the operator key's mode (NotFoundError when there is none)."""
    async with reading(info.context.services.sessions) as session:
        await tenancy.get_client(session, client)
    return _principal(info).acting_on(client).tenant


async def reconciliation_of(info: Info) -> list[ReconciliationSummary]:
    """For Viewer.reconciliation."""
    async with reading(info.context.services.sessions) as session:
        runs = await queries.latest_runs(session, _principal(info).tenant)
    return [ReconciliationSummary.from_row(run) for run in runs]


@strawberry.type
class ReconciliationQuery:
    @strawberry.field(
        permission_classes=[allowed(READ_RECONCILIATION)],
        description="Operators: a client's reconciliation runs, newest first.",
    )
    async def reconciliation_runs(
        self,
        info: Info,
        client: strawberry.ID,
        entity: Entity | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> ReconciliationRunConnection:
        try:
            tenant = await _tenant(info, str(client))
        except GatewayError:
            empty = PageInfo(end_cursor=None, has_next_page=False)
            return ReconciliationRunConnection(nodes=[], page_info=empty)
        async with reading(info.context.services.sessions) as session:
            page = await queries.list_runs(session, tenant, entity, first, after)
        return ReconciliationRunConnection(
            nodes=[ReconciliationRunNode.of(run) for run in page.items],
            page_info=PageInfo.of(page),
        )

    @strawberry.field(
        permission_classes=[allowed(READ_RECONCILIATION)],
        description="Operators: one reconciliation run; null when there is none.",
    )
    async def reconciliation_run(
        self, info: Info, id: strawberry.ID
    ) -> ReconciliationRunNode | None:
        livemode = _principal(info).mode.value == "live"
        async with reading(info.context.services.sessions) as session:
            found = await queries.get_run(session, livemode, str(id))
        return ReconciliationRunNode.of(found) if found else None


@strawberry.type
class ReconciliationMutation:
    @strawberry.mutation(
        permission_classes=[allowed(RUN_RECONCILIATION)],
        description="Operators: audit a client's AMS table now (and repair it on request). "
        "Returns the finished run; a full run of 10,000 records takes ~25 s (Airtable allows "
        "5 requests/s per base).",
    )
    async def reconcile(self, info: Info, input: ReconcileInput) -> ReconcilePayload:
        services = info.context.services

        async def dispatch() -> None:
            due = await claim_due_syncs(services.sessions, services.settings)
            await services.dispatcher.dispatch_syncs(due)

        try:
            tenant = await _tenant(info, str(input.client))
            request = ReconcileRequest(
                tenant,
                input.entity,
                full=input.full,
                repair=input.repair,
                requested_by=_principal(info).key_id,
            )
            run = await reconcile(services.sessions, services.settings, request, dispatch)
        except GatewayError as error:
            path = "client" if error.code == "not_found" else None
            return ReconcilePayload(
                run=None, errors=[UserError(code=error.code, message=error.message, path=path)]
            )
        return ReconcilePayload(run=ReconciliationRunNode.of(run), errors=[])
