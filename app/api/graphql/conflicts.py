"""GraphQL for conflict resolution: the client's conflict policy (identity and field owners),
linked records read as one, and the history of every resolution."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.ams import identity_rows
from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import PageInfo, Record, UserError, archivals
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import GatewayError
from app.privacy.masking import reveals_personal, shown_standard
from app.records import conflicts, policies, resolutions
from app.records.policies import Policy
from app.records.resolutions import RecordResolution, ResolutionKind
from app.tenancy import policy
from app.tenancy.models import Principal

ResolutionKindType = strawberry.enum(
    ResolutionKind,
    name="ResolutionKind",
    description="consent_kept: a record's consent gave way to a newer unsubscribe; "
    "consent_propagated: an unsubscribe was applied to a stored record of the same email; "
    "linked: a record shares its identity value (the policy's key, SKU by default) with another "
    "platform's record (one product); "
    "duplicate_sku: another record of the same platform has the same identity value (both kept; "
    "the field names the key); "
    "stale: a record older (source_updated_at) than the stored one was not applied; "
    "duplicate_in_batch: of two different records with one external id in a batch, the older "
    "was dropped; "
    "ams_row_merged: linked records of several platforms are one AMS row (detail: the row's "
    "record, its members, the rows of their own it replaced); "
    "ams_row_split: a record no longer linked has an AMS row of its own again; "
    "variant_updated: a WooCommerce variation read on its own replaced or added its parent's "
    "variant (detail: the variation); "
    "variation_held: a variation came before its parent and waits for it (applied when the "
    "parent arrives); "
    "variants_removed: a WooCommerce parent no longer lists these variations: their variants "
    "were removed (detail: the removed ids).",
)


@strawberry.type(description="One conflict resolved for one stored record, and why.")
class Resolution:
    id: strawberry.ID
    entity: Entity
    source_platform: str
    external_id: str
    kind: ResolutionKindType  # type: ignore[valid-type]
    field: str | None = strawberry.field(description="The field decided, when it was one field.")
    job_id: str | None
    detail: JSONObject = strawberry.field(
        description="The winning record (platform and external id), the rule applied and what "
        "was replaced; never personal data."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, row: RecordResolution) -> "Resolution":
        return cls(
            id=strawberry.ID(row.id),
            entity=Entity(row.entity),
            source_platform=row.source_platform,
            external_id=row.external_id,
            kind=ResolutionKind(row.kind),
            field=row.field,
            job_id=row.job_id,
            detail=JSONObject(row.detail),
            created_at=row.created_at,
        )


@strawberry.type
class ResolutionConnection:
    nodes: list[Resolution]
    page_info: PageInfo


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


@strawberry.type
class ConflictsQuery:
    @strawberry.field(
        permission_classes=[allowed(policy.READ)],
        description="How conflicts between records were resolved, oldest first: of one record "
        "when sourcePlatform and externalId are given.",
    )
    async def record_resolutions(
        self,
        info: Info,
        entity: Entity,
        source_platform: SourcePlatform | None = None,
        external_id: str | None = None,
        kind: ResolutionKindType | None = None,  # type: ignore[valid-type]
        first: int = 100,
        after: str | None = None,
    ) -> ResolutionConnection:
        record = None
        if source_platform is not None and external_id is not None:
            record = (source_platform.value, external_id)
        async with reading(info.context.services.sessions) as session:
            page = await resolutions.list_resolutions(
                session, _principal(info).tenant, entity, record, kind, first, after
            )
        return ResolutionConnection(
            nodes=[Resolution.from_row(row) for row in page.items], page_info=PageInfo.of(page)
        )

    @strawberry.field(
        permission_classes=[allowed(policy.READ)],
        description="The records of all platforms that share a value of the entity's identity "
        "key (by default a product's SKU, a person's email), read as one with the client's "
        "conflict policy; null when none or when the entity is not linked.",
    )
    async def linked_record(
        self, info: Info, entity: Entity, identity: str
    ) -> "LinkedRecord | None":
        async with reading(info.context.services.sessions) as session:
            found = await conflicts.linked_record(
                session, _principal(info).tenant, entity, identity
            )
            archived = await archivals(session, found.members) if found else {}
        reveal = reveals_personal(_principal(info))
        return LinkedRecord.of(found, reveal, archived) if found else None


@strawberry.type(description="Records of several platforms that are one thing, read as one.")
class LinkedRecord:
    entity: Entity
    identity: str
    data: JSONObject = strawberry.field(
        description="Each field from the platform that owns it, else from the newest record "
        "that has it; email consent: an unsubscribe wins over consent that is not newer. "
        "Personal fields masked unless the key holds the pii:read scope."
    )
    field_sources: JSONObject = strawberry.field(
        description="Per field: the record it came from and why (owner, newest, unsubscribe)."
    )
    members: list[Record]
    policy_version: int

    @classmethod
    def of(
        cls, found: conflicts.LinkedRecord, reveal: bool, archived: dict[str, datetime]
    ) -> "LinkedRecord":
        return cls(
            entity=found.entity,
            identity=found.identity,
            data=JSONObject(shown_standard(found.entity, found.data, reveal)),
            field_sources=JSONObject(found.field_sources),
            members=[Record.from_row(row, reveal, archived.get(row.id)) for row in found.members],
            policy_version=found.policy_version,
        )


@strawberry.type(description="How one entity's records of different platforms are reconciled.")
class ConflictPolicy:
    entity: Entity
    version: int = strawberry.field(description="0: the defaults (never set).")
    identity: str | None = strawberry.field(
        description="The key records of different platforms are linked by: a standard field or "
        "attributes.<name> (null: not linked)."
    )
    owners: JSONObject = strawberry.field(
        description="Standard field → the platform whose value wins it in linked records."
    )
    updated_at: datetime | None
    relinked_records: int | None = strawberry.field(
        description="A version that changed the identity key re-linked the records already "
        "stored under the new key at once: how many of them have a value under it (null: this "
        "version kept the key). Link and duplicate resolutions are recorded as records are "
        "stored from then on."
    )

    @classmethod
    def of(cls, found: Policy) -> "ConflictPolicy":
        return cls(
            entity=found.entity,
            version=found.version,
            identity=found.identity,
            owners=JSONObject(found.owners),
            updated_at=found.updated_at,
            relinked_records=found.relinked,
        )


@strawberry.input(description="One field and the platform that owns it.")
class FieldOwnerInput:
    field: str = strawberry.field(description="A standard field, or attributes.<key>.")
    platform: SourcePlatform


@strawberry.input(description="The complete conflict policy of one entity.")
class SetConflictPolicyInput:
    entity: Entity
    identity: str | None = strawberry.field(
        description="Link records of different platforms by this key, a string value of 1 to "
        "255 characters: products by sku (default), url or attributes.<name> (e.g. "
        "attributes.gtin); audience by email (default), phone or attributes.<name>; campaigns by "
        "name or attributes.<name>; assets by sha256, source_url or attributes.<name>. null: do "
        "not link. Changing it re-links the records already stored."
    )
    owners: list[FieldOwnerInput] = strawberry.field(
        default_factory=list,
        description="e.g. price owned by SHOPIFY, description by CUSTOM (the PIM). Email consent "
        "follows its own rule: an unsubscribe wins over consent that is not newer.",
    )


@strawberry.type(description="The answer to setConflictPolicy.")
class SetConflictPolicyPayload:
    policy: ConflictPolicy | None
    errors: list[UserError]


async def conflict_policies_of(info: Info) -> list[ConflictPolicy]:
    """For Viewer.conflictPolicies."""
    async with reading(info.context.services.sessions) as session:
        found = await policies.all_policies(session, _principal(info).tenant)
    return [ConflictPolicy.of(one) for one in found]


@strawberry.type
class ConflictsMutation:
    @strawberry.mutation(
        permission_classes=[allowed(policy.ADMIN)],
        description="Set how an entity's records of different platforms are linked and which "
        "platform owns which field (a new version; applies from the next records on).",
    )
    async def set_conflict_policy(
        self, info: Info, input: SetConflictPolicyInput
    ) -> SetConflictPolicyPayload:
        principal = _principal(info)
        owners = [(owner.field, owner.platform.value) for owner in input.owners]
        try:
            async with info.context.services.sessions() as session, session.begin():
                saved = await policies.set_policy(
                    session,
                    principal.tenant,
                    input.entity,
                    input.identity,
                    owners,
                    principal.key_id,
                )
                await identity_rows.policy_changed(session, principal.tenant, input.entity)
        except GatewayError as error:
            return SetConflictPolicyPayload(policy=None, errors=UserError.all_from(error))
        return SetConflictPolicyPayload(policy=ConflictPolicy.of(saved), errors=[])
