"""The GraphQL API: queries and mutations call services; nothing else happens here."""

from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from app.api.graphql.ams import AmsSync, ams_sync_of
from app.api.graphql.ams_credentials import (
    AmsCredentialsMutation,
    AmsCredentialsQuery,
    AmsCredentialsStatus,
    ams_credentials_of,
)
from app.api.graphql.archival import ArchivalMutation, ArchivalQuery
from app.api.graphql.audit import AuditMutations, AuditQuery
from app.api.graphql.clients import ClientsQuery
from app.api.graphql.conflicts import (
    ConflictPolicy,
    ConflictsMutation,
    ConflictsQuery,
    conflict_policies_of,
)
from app.api.graphql.depth import depth_limit
from app.api.graphql.errors import DomainErrors
from app.api.graphql.events import EventsMutation, EventsQuery
from app.api.graphql.field_mappings import FieldMapping, FieldMappingsMutation, field_mappings_of
from app.api.graphql.keys import KeysMutation, KeysQuery
from app.api.graphql.partner_reports import PartnerReportsMutation, PartnerReportsQuery
from app.api.graphql.permissions import allowed
from app.api.graphql.privacy import PrivacyMutation, PrivacyQuery
from app.api.graphql.quarantine import QuarantineMutation, QuarantineQuery
from app.api.graphql.rate_limits import RateLimits, RateLimitsMutation, viewer_rate_limits
from app.api.graphql.reconciliation import (
    ReconciliationMutation,
    ReconciliationQuery,
    ReconciliationSummary,
    reconciliation_of,
)
from app.api.graphql.request_limits import ConfiguredMaxTokens, LiveIntrospectionOff
from app.api.graphql.retention import RetentionMutation, RetentionPolicyType, retention_policy_of
from app.api.graphql.scalars import (
    SCALARS,
    AssetRecord,
    AudienceRecord,
    CampaignRecord,
    JSONObject,
    PlatformRecord,
    ProductRecord,
)
from app.api.graphql.types import (
    JobCounters,
    Onboarding,
    PageInfo,
    Provisioning,
    ProvisioningPayload,
    Record,
    RecordConnection,
    RecordError,
    RecordErrorConnection,
    UserError,
    archivals,
    job_counters,
)
from app.api.graphql.usage import UsageCount, UsageQuery, usage_counts
from app.api.graphql.validation_rules import (
    ValidationRuleSet,
    ValidationRulesMutation,
    validation_rule_sets,
)
from app.api.graphql.webhooks import WebhooksMutation, WebhooksQuery
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.db.models import IngestJob
from app.errors import GatewayError
from app.ingest.service import IngestRequest, submit_ingest
from app.jobs import service as jobs
from app.jobs.models import Door, JobStatus
from app.observability.http import OperationLabel
from app.privacy.masking import reveals_personal
from app.provisioning import service as provisioning
from app.records import service as records
from app.tenancy import policy
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Principal, Tenant

INGESTING: list[type[BasePermission]] = [allowed(policy.INGEST)]
READING: list[type[BasePermission]] = [allowed(policy.READ)]
ADMINISTERING: list[type[BasePermission]] = [allowed(policy.ADMIN)]


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


@strawberry.type(description="An ingest job: one call's records on their way into the store.")
class Job:
    id: strawberry.ID
    entity: Entity
    status: JobStatus
    door: Door
    source_platform: SourcePlatform | None = strawberry.field(
        description="For ingestRaw jobs: the platform whose native shape the records were in."
    )
    mapping_version: int | None = strawberry.field(
        description="For raw jobs: the version of the client's field mapping the records were "
        "mapped with (0: the platform's rules alone); null until a worker picks the job up."
    )
    counters: JobCounters
    idempotency_key: str | None
    request_id: str | None = strawberry.field(description="X-Request-ID of the call that made it.")
    attempts: int = strawberry.field(description="How many times a worker has picked it up.")
    failure_reason: str | None = strawberry.field(
        description="Why the last attempt failed, when one did (the job is retried)."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tenant: strawberry.Private[Tenant]

    @classmethod
    def from_row(cls, job: IngestJob) -> "Job":
        return cls(
            id=strawberry.ID(job.id),
            entity=Entity(job.entity),
            status=JobStatus(job.status),
            door=Door(job.door),
            source_platform=SourcePlatform(job.source_platform) if job.source_platform else None,
            mapping_version=job.mapping_version,
            counters=job_counters(job),
            idempotency_key=job.idempotency_key,
            request_id=job.request_id,
            attempts=job.attempts,
            failure_reason=job.failure_reason,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            tenant=Tenant(job.client_id, job.livemode),
        )

    @strawberry.field(description="Why records were quarantined, in request order.")
    async def errors(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> RecordErrorConnection:
        async with reading(info.context.services.sessions) as session:
            page = await jobs.list_record_errors(session, self.tenant, str(self.id), first, after)
        return RecordErrorConnection(
            nodes=[RecordError.from_row(row) for row in page.items],
            page_info=PageInfo.of(page),
        )


@strawberry.type
class JobConnection:
    nodes: list[Job]
    page_info: PageInfo


@strawberry.type(description="The client an API key belongs to.")
class Client:
    id: strawberry.ID
    name: str
    created_at: datetime


@strawberry.type(description="The API key making this request (never its secret).")
class ApiKeyInfo:
    id: strawberry.ID
    mode: KeyMode
    prefix: str


@strawberry.type(description="Who is calling.")
class Viewer:
    client: Client
    api_key: ApiKeyInfo
    mode: KeyMode = strawberry.field(description="TEST data is kept apart from LIVE data.")

    @strawberry.field(description="Metered usage per UTC day, from and to inclusive.")
    async def usage(
        self, info: Info, from_: Annotated[date, strawberry.argument(name="from")], to: date
    ) -> list[UsageCount]:
        tenant = _principal(info).tenant
        return await usage_counts(info, tenant.client_id, tenant.livemode, from_, to)

    @strawberry.field(description="Where this client is in onboarding, and since when.")
    async def onboarding(self, info: Info) -> Onboarding:
        row = await provisioning.find_provisioning(info.context.services, _principal(info).tenant)
        return Onboarding.from_row(row)

    @strawberry.field(
        description="The generated AMS config (use_for key, Airtable base and table ids, Drive "
        "folder ids, pipeline settings); null until the client's AMS is provisioned."
    )
    async def ams_config(self, info: Info) -> JSONObject | None:
        row = await provisioning.find_provisioning(info.context.services, _principal(info).tenant)
        if row is None or row.config is None:
            return None
        return JSONObject(row.config)

    @strawberry.field(
        description="How the client's records reach its AMS: the last sync per entity with its "
        "counts, and each record's state there (rejections with Airtable's error)."
    )
    async def ams_sync(self, info: Info) -> AmsSync:
        return await ams_sync_of(info, _principal(info).tenant)

    @strawberry.field(
        description="The validation rules per entity: the client's own (with their version) "
        "and the built-in ones."
    )
    async def validation_rules(self, info: Info) -> list[ValidationRuleSet]:
        return await validation_rule_sets(info)

    @strawberry.field(description="How long the gateway keeps this client's data (this mode).")
    async def retention_policy(self, info: Info) -> RetentionPolicyType:
        return await retention_policy_of(info)

    @strawberry.field(
        description="The client's own mapping rules per platform and entity (current version)."
    )
    async def field_mappings(self, info: Info) -> list[FieldMapping]:
        return await field_mappings_of(info)

    @strawberry.field(
        description="Per entity: how records of different platforms are linked and which "
        "platform owns which field."
    )
    async def conflict_policies(self, info: Info) -> list[ConflictPolicy]:
        return await conflict_policies_of(info)

    @strawberry.field(
        description="The latest audit of the client's AMS base per entity (the daily "
        "reconciliation): how many records were compared and what differed."
    )
    async def reconciliation(self, info: Info) -> list[ReconciliationSummary]:
        return await reconciliation_of(info)

    @strawberry.field(description="The client's current rate limits (its own or the defaults).")
    async def rate_limits(self, info: Info) -> RateLimits:
        return await viewer_rate_limits(info, _principal(info).tenant.client_id)

    @strawberry.field(
        description="What is configured of the client's live AMS credentials (never the secrets)."
    )
    async def ams_credentials(self, info: Info) -> AmsCredentialsStatus:
        return await ams_credentials_of(info, _principal(info).tenant.client_id)


@strawberry.type(description="The answer to an ingest call.")
class IngestPayload:
    job: Job | None = strawberry.field(
        description="The job holding the records; null when the call was rejected (see errors)."
    )
    replayed: bool = strawberry.field(
        description="True when this idempotencyKey was seen before: the original job is returned."
    )
    errors: list[UserError] = strawberry.field(
        description="Why the call as a whole was rejected; record-level problems are on the job."
    )


def _ingest_input(name: str, record_scalar: Any, entity: str) -> Any:
    namespace = {
        "__annotations__": {"records": list[record_scalar], "idempotency_key": str | None},
        "records": strawberry.field(
            description=f"1 to 5,000 {entity} records (standard schema v1)."
        ),
        "idempotency_key": strawberry.field(
            default=None,
            description="Retrying with the same key and the same records returns the first job "
            "instead of creating another; the same key with different records is an error.",
        ),
    }
    return strawberry.input(type(name, (), namespace), description=f"Records to ingest: {entity}.")


IngestProductsInput = _ingest_input("IngestProductsInput", ProductRecord, "product")
IngestAssetsInput = _ingest_input("IngestAssetsInput", AssetRecord, "asset")
IngestCampaignsInput = _ingest_input("IngestCampaignsInput", CampaignRecord, "campaign")
IngestAudienceInput = _ingest_input("IngestAudienceInput", AudienceRecord, "audience")


@strawberry.input(description="Records in a platform's own shape, mapped by its mapping rules.")
class IngestRawInput:
    platform: SourcePlatform = strawberry.field(
        description="Where the records come from; with entity, picks the mapping rules."
    )
    entity: Entity = strawberry.field(description="What the records become.")
    records: list[PlatformRecord] = strawberry.field(
        description="1 to 5,000 records exactly as the platform's API returns them."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retrying with the same key and the same request returns the first job "
        "instead of creating another; the same key with a different request is an error.",
    )


async def _ingest(
    info: Info, entity: Entity, payload: Any, platform: SourcePlatform | None = None
) -> IngestPayload:
    request = IngestRequest(
        entity=entity,
        records=payload.records,
        idempotency_key=payload.idempotency_key,
        door=Door.GRAPHQL,
        request_id=info.context.request_id,
        source_platform=platform,
    )
    try:
        accepted = await submit_ingest(info.context.services, _principal(info), request)
    except GatewayError as error:
        problems = [UserError.from_field_error(e) for e in error.errors]
        return IngestPayload(
            job=None,
            replayed=False,
            errors=problems or [UserError(code=error.code, message=error.message, path=None)],
        )
    return IngestPayload(job=Job.from_row(accepted.job), replayed=accepted.replayed, errors=[])


@strawberry.type
class CoreMutation:
    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Push product records; returns the job at once.",
    )
    async def ingest_products(self, info: Info, input: IngestProductsInput) -> IngestPayload:  # type: ignore[valid-type]
        return await _ingest(info, Entity.PRODUCT, input)

    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Push asset (media) records; returns the job at once.",
    )
    async def ingest_assets(self, info: Info, input: IngestAssetsInput) -> IngestPayload:  # type: ignore[valid-type]
        return await _ingest(info, Entity.ASSET, input)

    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Push campaign records; returns the job at once.",
    )
    async def ingest_campaigns(self, info: Info, input: IngestCampaignsInput) -> IngestPayload:  # type: ignore[valid-type]
        return await _ingest(info, Entity.CAMPAIGN, input)

    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Push audience (contact) records; returns the job at once.",
    )
    async def ingest_audience(self, info: Info, input: IngestAudienceInput) -> IngestPayload:  # type: ignore[valid-type]
        return await _ingest(info, Entity.AUDIENCE, input)

    @strawberry.mutation(
        permission_classes=INGESTING,
        description="Push records in a platform's own shape (e.g. a Shopify products page); "
        "they are mapped to the standard schema, then validated. Returns the job at once.",
    )
    async def ingest_raw(self, info: Info, input: IngestRawInput) -> IngestPayload:
        return await _ingest(info, input.entity, input, input.platform)

    # Operators provisioning any client come with operator roles (issue 6).
    @strawberry.mutation(
        permission_classes=ADMINISTERING,
        description="Provision the calling client's AMS (test keys: the sandbox): the Airtable "
        "base from the template, the Drive folder tree and the AMS config. Idempotent and "
        "resumable: calling it again finishes what stopped half-way and creates nothing twice. "
        "For now it provisions the caller's own client; provisioning other clients comes with "
        "operator roles.",
    )
    async def provision_client(self, info: Info) -> ProvisioningPayload:
        services, tenant = info.context.services, _principal(info).tenant
        try:
            row = await provisioning.provision(services, tenant)
        except GatewayError as error:
            found = await provisioning.find_provisioning(services, tenant)
            return ProvisioningPayload(
                provisioning=Provisioning.from_row(found) if found else None,
                onboarding=Onboarding.from_row(found),
                errors=[UserError(code=error.code, message=error.message, path=None)],
            )
        return ProvisioningPayload(
            provisioning=Provisioning.from_row(row), onboarding=Onboarding.from_row(row), errors=[]
        )


@strawberry.type
class CoreQuery:
    @strawberry.field(permission_classes=READING, description="The calling client and key.")
    async def viewer(self, info: Info) -> Viewer:
        principal = _principal(info)
        async with reading(info.context.services.sessions) as session:
            client = await tenancy.get_client(session, principal.tenant.client_id)
            key = await tenancy.get_key(session, principal.key_id)
        return Viewer(
            client=Client(
                id=strawberry.ID(client.id), name=client.name, created_at=client.created_at
            ),
            api_key=ApiKeyInfo(id=strawberry.ID(key.id), mode=principal.mode, prefix=key.prefix),
            mode=principal.mode,
        )

    @strawberry.field(
        permission_classes=READING,
        description="One job of the calling client; null when there is no such job.",
    )
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        async with reading(info.context.services.sessions) as session:
            try:
                found = await jobs.get_job(session, _principal(info).tenant, str(id))
            except GatewayError:
                return None
        return Job.from_row(found)

    @strawberry.field(permission_classes=READING, description="Jobs, newest first.")
    async def jobs(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: JobStatus | None = None,
        entity: Entity | None = None,
    ) -> JobConnection:
        async with reading(info.context.services.sessions) as session:
            page = await jobs.list_jobs(
                session, _principal(info).tenant, first, after, status, entity
            )
        return JobConnection(
            nodes=[Job.from_row(job) for job in page.items],
            page_info=PageInfo.of(page),
        )

    @strawberry.field(
        permission_classes=READING,
        description="Stored canonical records, to check what arrived (personal fields masked "
        "unless the key holds the pii:read scope).",
    )
    async def records(
        self,
        info: Info,
        entity: Entity,
        external_ids: list[str] | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> RecordConnection:
        principal = _principal(info)
        async with reading(info.context.services.sessions) as session:
            page = await records.list_records(
                session, principal.tenant, entity, external_ids, first, after
            )
            archived = await archivals(session, page.items)
        reveal = reveals_personal(principal)
        return RecordConnection(
            nodes=[Record.from_row(row, reveal, archived.get(row.id)) for row in page.items],
            page_info=PageInfo.of(page),
        )


# Each domain keeps its operations in its own module (app/api/graphql/<domain>.py) and adds its
# Query/Mutation part here, one base per line.
@strawberry.type
class Query(
    CoreQuery,
    KeysQuery,
    UsageQuery,
    PartnerReportsQuery,
    AuditQuery,
    WebhooksQuery,
    EventsQuery,
    QuarantineQuery,
    PrivacyQuery,
    ConflictsQuery,
    AmsCredentialsQuery,
    ReconciliationQuery,
    ArchivalQuery,
    ClientsQuery,
):
    pass


@strawberry.type
class Mutation(
    CoreMutation,
    KeysMutation,
    PartnerReportsMutation,
    WebhooksMutation,
    EventsMutation,
    QuarantineMutation,
    ValidationRulesMutation,
    FieldMappingsMutation,
    RetentionMutation,
    RateLimitsMutation,
    PrivacyMutation,
    ConflictsMutation,
    AmsCredentialsMutation,
    ReconciliationMutation,
    ArchivalMutation,
):
    pass


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Errors are logged where they are understood (DomainErrors), not as raw tracebacks."""


schema = GatewaySchema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(scalar_map=SCALARS),
    extensions=[
        DomainErrors,
        AuditMutations,
        depth_limit(max_depth=12),
        partial(MaxAliasesLimiter, max_alias_count=30),
        ConfiguredMaxTokens,
        LiveIntrospectionOff,
        OperationLabel,  # request metrics: the operation's root field
    ],
)
