"""GraphQL for personal data: erase one person everywhere (eraseSubject), export what is held
about them (exportSubject), and the client's suppression setting."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import UserError
from app.audit.service import AuditEntry
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.db.models import Client
from app.errors import GatewayError
from app.privacy import service as privacy
from app.privacy.export import export_subject
from app.privacy.identifiers import Subject, subject_hash, subject_of
from app.privacy.models import ErasureStatus
from app.privacy.suppression import set_suppression, suppresses_erased
from app.tenancy import policy
from app.tenancy.models import Principal, Scope
from app.tenancy.policy import Requirement

PRIVACY = [allowed(policy.PRIVACY)]
# Subject access hands out a person's data unmasked: the client's administration, and a key
# that may read personal data (app.privacy.masking).
SUBJECT_ACCESS = [allowed(policy.PRIVACY), allowed(Requirement(Scope.PII_READ))]


@strawberry.input(description="One person, named by exactly one identifier.")
class SubjectInput:
    email: str | None = strawberry.field(default=None, description="Matched lower-cased.")
    phone: str | None = strawberry.field(
        default=None,
        description="E.164, or national in the client's default region; matched as E.164.",
    )
    external_id: str | None = strawberry.field(
        default=None, description="The person's id on its source platform."
    )
    platform: SourcePlatform | None = strawberry.field(
        default=None, description="Only the person's records from this platform; all when null."
    )


@strawberry.type(description="Rows removed from one place.")
class ErasedPlace:
    place: str = strawberry.field(
        description="canonical_records, record_history (resolved conflicts), quarantine_entries, "
        "staged_records (raw payloads), "
        "record_errors, idempotency_keys (released), webhook_notices (webhook events that did "
        "not become jobs), archived_records (archivals of their records), "
        "ams_record_retries (AMS writes waiting to be retried), "
        "reconciliation_mismatches (mismatches naming their records or Airtable rows), "
        "ams_rows (Airtable rows deleted), ams_sync_records."
    )
    removed: int


@strawberry.type(description="What an erasure removed where. The identifier is not repeated.")
class ErasureReceipt:
    run_id: strawberry.ID = strawberry.field(description="The erasure run (ers_…).")
    completed: bool = strawberry.field(
        description="False when the run stopped half-way (e.g. the AMS was unavailable): "
        "erasing the same person again goes on from where it stopped."
    )
    resumed: bool = strawberry.field(description="This call went on with an unfinished run.")
    removed: list[ErasedPlace] = strawberry.field(description="Per place, in erasure order.")
    total_removed: int
    error: str | None = strawberry.field(description="Why the run stopped, when it did.")
    started_at: datetime
    completed_at: datetime | None


@strawberry.type(description="The answer to eraseSubject.")
class EraseSubjectPayload:
    receipt: ErasureReceipt | None
    errors: list[UserError]


@strawberry.type(description="The answer to exportSubject.")
class ExportSubjectPayload:
    subject: JSONObject | None = strawberry.field(
        description="Everything held about the person: canonical_records, raw_payloads, "
        "quarantine_entries, record_history, ams_rows (Airtable record ids), webhook_notices, "
        "jobs, erasures, suppressed."
    )
    errors: list[UserError]


@strawberry.type(description="How the client handles its people's personal data.")
class PrivacySettings:
    suppress_erased: bool = strawberry.field(
        description="True: an erased person's later pushes are quarantined with the code "
        "subject_suppressed (only salted hashes are kept). False (default): they are new data."
    )


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


async def _subject(info: Info, given: SubjectInput) -> Subject:
    tenant = _principal(info).tenant
    async with reading(info.context.services.sessions) as session:
        client = await session.get(Client, tenant.client_id)
    region = client.default_region if client is not None else None
    return subject_of(given.email, given.phone, given.external_id, given.platform, region)


def _receipt(receipt: privacy.ErasureReceipt) -> ErasureReceipt:
    run = receipt.run
    places = [ErasedPlace(place=p, removed=int(run.removed.get(p, 0))) for p in privacy.PLACES]
    return ErasureReceipt(
        run_id=strawberry.ID(run.id),
        completed=run.status == ErasureStatus.COMPLETED.value,
        resumed=receipt.resumed,
        removed=places,
        total_removed=sum(place.removed for place in places),
        error=run.error,
        started_at=run.created_at,
        completed_at=run.completed_at,
    )


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        permission_classes=SUBJECT_ACCESS,
        description="Subject access: everything held about one person of the calling client, "
        "as JSON, unmasked (needs the admin and pii:read scopes). Another client's person, or "
        "nobody, gives empty lists.",
    )
    async def export_subject(self, info: Info, input: SubjectInput) -> ExportSubjectPayload:
        services, principal = info.context.services, _principal(info)
        try:
            subject = await _subject(info, input)
            async with reading(services.sessions) as session:
                document = await export_subject(
                    session, services.settings, principal.tenant, subject
                )
            hashed = subject_hash(services.settings, principal.tenant, subject)
        except GatewayError as error:
            return ExportSubjectPayload(subject=None, errors=UserError.all_from(error))
        services.audit.record(
            AuditEntry.by(
                principal,
                "privacy.export_subject",
                "ok",
                target_ids=[f"subject:{hashed}"],
                request_id=info.context.request_id,
            )
        )
        return ExportSubjectPayload(subject=JSONObject(document), errors=[])

    @strawberry.field(permission_classes=PRIVACY, description="The client's privacy settings.")
    async def privacy_settings(self, info: Info) -> PrivacySettings:
        async with reading(info.context.services.sessions) as session:
            enabled = await suppresses_erased(session, _principal(info).tenant)
        return PrivacySettings(suppress_erased=enabled)


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        permission_classes=PRIVACY,
        description="Erase one person of the calling client everywhere the gateway put them "
        "(canonical records, raw payloads, quarantine, record errors, idempotency keys, webhook "
        "notices, the AMS "
        "base's rows and sync state) and emit subject.erased. Idempotent: erasing again removes "
        "what arrived since, or nothing. A run cut short is resumed by the next call.",
    )
    async def erase_subject(self, info: Info, input: SubjectInput) -> EraseSubjectPayload:
        services, principal = info.context.services, _principal(info)
        try:
            subject = await _subject(info, input)
            receipt = await privacy.erase_subject(
                services, principal, subject, info.context.request_id
            )
        except GatewayError as error:
            return EraseSubjectPayload(receipt=None, errors=UserError.all_from(error))
        return EraseSubjectPayload(receipt=_receipt(receipt), errors=[])

    @strawberry.mutation(
        permission_classes=PRIVACY,
        description="Turn suppression of erased people on or off (off forgets every kept hash).",
    )
    async def set_privacy_settings(self, info: Info, suppress_erased: bool) -> PrivacySettings:
        async with info.context.services.sessions() as session, session.begin():
            enabled = await set_suppression(session, _principal(info).tenant, suppress_erased)
        return PrivacySettings(suppress_erased=enabled)
