"""GraphQL for field-mapping overrides: a client's own mapping rules per platform and entity."""

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import UserError
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import GatewayError
from app.mappings_override import service
from app.mappings_override.service import FieldMappingView
from app.tenancy import policy
from app.tenancy.models import Principal

RULE_FORMAT = (
    "Each rule as in contracts/mappings/mapping-rules.schema.json: {target, source?, transform?, "
    "args?, default?, required?, fallback?, note?}, e.g. {target: 'name', source: "
    "'properties.deal_name'} or {target: 'attributes.material', source: "
    "'metafields[0].value', transform: 'text'}."
)


@strawberry.type(description="The client's own mapping rules for one platform and entity.")
class FieldMapping:
    platform: SourcePlatform
    entity: Entity
    version: int = strawberry.field(
        description="Goes up by one with each setFieldMapping; raw jobs show the version they "
        "mapped with (Job.mappingVersion)."
    )
    rules: list[JSONObject] = strawberry.field(
        description="Laid over the platform's rule file: each replaces the file's rules for its "
        "target (or, with fallback: true, runs where they left it unset); new targets are added."
    )
    updated_at: datetime | None

    @classmethod
    def of(cls, view: FieldMappingView) -> "FieldMapping":
        return cls(
            platform=view.platform,
            entity=view.entity,
            version=view.version,
            rules=[JSONObject(rule) for rule in view.rules],
            updated_at=view.updated_at,
        )


@strawberry.input(
    description="The complete list of the client's own rules for one platform and entity."
)
class SetFieldMappingInput:
    platform: SourcePlatform
    entity: Entity
    rules: list[JSONObject] = strawberry.field(
        description=f"{RULE_FORMAT} An empty list goes back to the platform's rules alone."
    )


@strawberry.type(description="The answer to setFieldMapping.")
class SetFieldMappingPayload:
    field_mapping: FieldMapping | None = strawberry.field(
        description="The new current mapping; null when it was rejected (see errors)."
    )
    errors: list[UserError]


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


async def field_mappings_of(info: Info) -> list[FieldMapping]:
    """For Viewer.fieldMappings."""
    async with reading(info.context.services.sessions) as session:
        views = await service.field_mappings(session, _principal(info).tenant)
    return [FieldMapping.of(view) for view in views]


@strawberry.type
class FieldMappingsMutation:
    @strawberry.mutation(
        permission_classes=[allowed(policy.ADMIN)],
        description="Replace the client's own mapping rules for a platform and entity (a new "
        "version), e.g. HubSpot deal_name → name or a Shopify metafield → attributes.material. "
        "Raw records (ingestRaw, REST ?platform=, webhooks) are mapped with them from the next "
        "job on; replayQuarantined maps held raw records again with them.",
    )
    async def set_field_mapping(
        self, info: Info, input: SetFieldMappingInput
    ) -> SetFieldMappingPayload:
        principal = _principal(info)
        given: list[Any] = list(input.rules)
        try:
            async with info.context.services.sessions() as session, session.begin():
                view = await service.set_field_mapping(
                    session,
                    principal.tenant,
                    input.platform,
                    input.entity,
                    given,
                    principal.key_id,
                )
        except GatewayError as error:
            return SetFieldMappingPayload(field_mapping=None, errors=UserError.all_from(error))
        return SetFieldMappingPayload(field_mapping=FieldMapping.of(view), errors=[])
