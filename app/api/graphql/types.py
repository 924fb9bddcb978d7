"""GraphQL object types. Names match the domain: Job is an ingest job, Record a canonical record."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams.archival import archived_keys
from app.api.graphql.scalars import JSONObject
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.models import CanonicalRecord, IngestJob
from app.db.models import RecordError as RecordErrorRow
from app.errors import FieldError, GatewayError
from app.jobs.models import Door, JobStatus
from app.jobs.service import request_path
from app.pagination import Page
from app.privacy.masking import shown_standard
from app.provisioning.models import AmsProvisioning, OnboardingStatus, ProvisioningStatus
from app.tenancy.models import KeyMode, Tenant

# The domain enums are the GraphQL enums: one name per concept, registered here.
strawberry.enum(JobStatus, description="Where an ingest job is.")
strawberry.enum(Door, description="How a request reached the gateway.")
strawberry.enum(Entity, description="The kinds of record the gateway accepts.")
strawberry.enum(SourcePlatform, description="A platform records come from.")
strawberry.enum(
    KeyMode, description="TEST keys write to the sandbox only; LIVE keys to the real AMS."
)
strawberry.enum(
    OnboardingStatus,
    description="Where a client is in onboarding: CONNECTED → FIRST_SYNC → VALIDATED → "
    "PRODUCTION_READY.",
)
strawberry.enum(ProvisioningStatus, description="Where the provisioning of a client's AMS is.")


@strawberry.type(description="A problem the caller can fix, with the path of the offending field.")
class UserError:
    code: str = strawberry.field(description="Stable, machine-readable error code.")
    message: str = strawberry.field(description="What is wrong and what to do about it.")
    path: str | None = strawberry.field(
        description="Path of the offending input field, e.g. records[3].price.amount."
    )

    @classmethod
    def from_field_error(cls, error: FieldError) -> "UserError":
        return cls(code=error.code, message=error.message, path=error.dotted_path or None)

    @classmethod
    def all_from(cls, error: GatewayError) -> list["UserError"]:
        """A refused input's field errors, or the error itself when it names no field."""
        problems = [cls.from_field_error(problem) for problem in error.errors]
        return problems or [cls(code=error.code, message=error.message, path=None)]


@strawberry.type(description="Counts of what happened to a job's records.")
class JobCounters:
    received: int = strawberry.field(description="Records in the request.")
    valid: int = strawberry.field(description="Records that passed validation.")
    quarantined: int = strawberry.field(description="Records held back with errors.")
    unchanged: int = strawberry.field(description="Valid records identical to what is stored.")
    stale: int = strawberry.field(
        description="Valid records older (source_updated_at) than what is stored: not applied."
    )
    written: int = strawberry.field(description="Records stored as new or changed.")
    held: int = strawberry.field(
        description="Valid WooCommerce variations waiting for their parent product, applied "
        "when it is stored; nothing written yet."
    )
    processed: int = strawberry.field(description="Records the worker has gone through so far.")


@strawberry.type(description="Why one record of a job was quarantined.")
class RecordError:
    index: int = strawberry.field(description="Position of the record in the request, from 0.")
    external_id: str | None
    code: str
    message: str
    path: str = strawberry.field(description="Field path from the request, e.g. records[3].name.")
    rule_id: str | None = strawberry.field(
        description="The validation rule that failed, when one did (see viewer.validationRules)."
    )

    @classmethod
    def from_row(cls, row: RecordErrorRow) -> "RecordError":
        return cls(
            index=row.position,
            external_id=row.external_id,
            code=row.code,
            message=row.message,
            path=request_path(row),
            rule_id=row.rule_id,
        )


@strawberry.type
class PageInfo:
    end_cursor: str | None
    has_next_page: bool

    @classmethod
    def of(cls, page: Page[Any]) -> "PageInfo":
        return cls(end_cursor=page.end_cursor, has_next_page=page.has_next_page)


@strawberry.type
class RecordErrorConnection:
    nodes: list[RecordError]
    page_info: PageInfo


@strawberry.type(description="A stored canonical record: what the gateway holds after validation.")
class Record:
    entity: Entity
    external_id: str
    source_platform: str
    source_updated_at: datetime
    version: int = strawberry.field(description="Goes up by one each time the content changes.")
    updated_at: datetime
    data: JSONObject = strawberry.field(
        description="The record in the standard schema v1 shape (snake_case fields); personal "
        "fields (audience: email, phone, names, city, attributes) masked unless the key holds "
        "the pii:read scope."
    )
    archived_at: datetime | None = strawberry.field(
        default=None,
        description="When the record was archived (deleted at its source: archiveRecords, a "
        "delete webhook, or a full resync pass that did not see it); null while it is alive. "
        "An archived record stays readable; a push with a newer sourceUpdatedAt revives it.",
    )

    @classmethod
    def from_row(
        cls, row: CanonicalRecord, reveal_personal: bool, archived_at: datetime | None = None
    ) -> "Record":
        """`archived_at`: from `archivals` (loaded for the whole page at once)."""
        return cls(
            entity=Entity(row.entity),
            external_id=row.external_id,
            source_platform=row.source_platform,
            source_updated_at=row.source_updated_at,
            version=row.version,
            updated_at=row.updated_at,
            data=JSONObject(shown_standard(row.entity, row.data, reveal_personal)),
            archived_at=archived_at,
        )


async def archivals(session: AsyncSession, rows: Sequence[CanonicalRecord]) -> dict[str, datetime]:
    """Canonical record id → when it was archived, for the archived ones among `rows`: one query
    per tenant and entity (a page holds one), never one per record."""
    groups: dict[tuple[str, bool, str], list[CanonicalRecord]] = defaultdict(list)
    for row in rows:
        groups[(row.client_id, row.livemode, row.entity)].append(row)
    found: dict[str, datetime] = {}
    for (client_id, livemode, entity), members in groups.items():
        keys = [(row.source_platform, row.external_id) for row in members]
        archived = await archived_keys(session, Tenant(client_id, livemode), Entity(entity), keys)
        for row in members:
            at = archived.get((row.source_platform, row.external_id))
            if at is not None:
                found[row.id] = at
    return found


@strawberry.type
class RecordConnection:
    nodes: list[Record]
    page_info: PageInfo


def job_counters(job: IngestJob) -> JobCounters:
    return JobCounters(
        received=job.received,
        valid=job.valid,
        quarantined=job.quarantined,
        unchanged=job.unchanged,
        stale=job.stale,
        written=job.written,
        held=job.held,
        processed=job.processed,
    )


@strawberry.type(
    description="Where the calling client is in onboarding, with when each state was reached."
)
class Onboarding:
    status: OnboardingStatus | None = strawberry.field(
        description="Null until the client's AMS is provisioned (then at least CONNECTED)."
    )
    reason: str | None = strawberry.field(
        description="Why onboarding cannot advance, when it cannot."
    )
    provisioned_at: datetime | None
    connected_at: datetime | None
    first_sync_at: datetime | None
    validated_at: datetime | None
    production_ready_at: datetime | None

    @classmethod
    def from_row(cls, row: AmsProvisioning | None) -> "Onboarding":
        if row is None or row.onboarding_status is None:
            reason = row.error if row is not None and row.error else None
            return cls(
                status=None,
                reason=reason or "The client's AMS is not provisioned yet (provisionClient).",
                provisioned_at=None,
                connected_at=None,
                first_sync_at=None,
                validated_at=None,
                production_ready_at=None,
            )
        return cls(
            status=OnboardingStatus(row.onboarding_status),
            reason=row.onboarding_reason,
            provisioned_at=row.provisioned_at,
            connected_at=row.connected_at,
            first_sync_at=row.first_sync_at,
            validated_at=row.validated_at,
            production_ready_at=row.production_ready_at,
        )


@strawberry.type(description="What has been provisioned in a client's AMS.")
class Provisioning:
    status: ProvisioningStatus
    base_id: str | None = strawberry.field(description="The client's Airtable base.")
    root_folder_id: str | None = strawberry.field(description="The client's Drive root folder.")
    folder_ids: JSONObject = strawberry.field(
        description='Drive folder id per role, e.g. {"Assets/Images": "…"}.'
    )
    config_version: int = strawberry.field(
        description="Goes up by one each time the generated AMS config changes."
    )
    ams_config: JSONObject | None = strawberry.field(description="The generated AMS config.")
    error: str | None = strawberry.field(description="Why the last attempt stopped, if it did.")
    provisioned_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: AmsProvisioning) -> "Provisioning":
        return cls(
            status=ProvisioningStatus(row.status),
            base_id=row.base_id,
            root_folder_id=row.root_folder_id,
            folder_ids=JSONObject(dict(row.folder_ids)),
            config_version=row.config_version,
            ams_config=JSONObject(row.config) if row.config is not None else None,
            error=row.error,
            provisioned_at=row.provisioned_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="The answer to provisionClient.")
class ProvisioningPayload:
    provisioning: Provisioning | None = strawberry.field(
        description="The client's provisioning; null when it could not start (see errors)."
    )
    onboarding: Onboarding
    errors: list[UserError] = strawberry.field(
        description="Why provisioning stopped; calling provisionClient again resumes it."
    )
