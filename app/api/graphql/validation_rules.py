"""GraphQL for validation rules: the client's own rules per entity, next to the built-in ones."""

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import UserError
from app.contracts.entities import Entity
from app.db.engine import reading
from app.errors import GatewayError
from app.rules import service as rules
from app.rules.service import RuleSetView
from app.tenancy import policy
from app.tenancy.models import Principal

RULE_KINDS = (
    "required {field}; range {field, min, max} (numbers, decimal strings for money amounts, or "
    "RFC 3339 date-times); enum {field, values}; regex {field, pattern}; compare {field, op: "
    "gte|gt|lte|lt|eq|ne, other}; at_least_one {fields}"
)


@strawberry.type(description="The validation rules one entity's records are checked with.")
class ValidationRuleSet:
    entity: Entity
    version: int = strawberry.field(
        description="Goes up by one with each setValidationRules; 0 while the client has none."
    )
    rules: list[JSONObject] = strawberry.field(description="The client's own rules.")
    defaults: list[JSONObject] = strawberry.field(
        description="The built-in rules (contracts/rules/<entity>.json); they always apply."
    )
    updated_at: datetime | None

    @classmethod
    def of(cls, view: RuleSetView) -> "ValidationRuleSet":
        return cls(
            entity=view.entity,
            version=view.version,
            rules=[JSONObject(rule) for rule in view.rules],
            defaults=[JSONObject(rule) for rule in view.defaults],
            updated_at=view.updated_at,
        )


@strawberry.input(description="The complete list of the client's own rules for one entity.")
class SetValidationRulesInput:
    entity: Entity
    rules: list[JSONObject] = strawberry.field(
        description="Each rule: {id, kind, ..., message?, when?: {field, equals | in | present}}. "
        f"Kinds: {RULE_KINDS}. An empty list removes the client's rules."
    )


@strawberry.type(description="The answer to setValidationRules.")
class SetValidationRulesPayload:
    rule_set: ValidationRuleSet | None = strawberry.field(
        description="The new current rules; null when they were rejected (see errors)."
    )
    errors: list[UserError]


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


async def validation_rule_sets(info: Info) -> list[ValidationRuleSet]:
    """For Viewer.validationRules."""
    async with reading(info.context.services.sessions) as session:
        views = await rules.rule_sets(session, _principal(info).tenant)
    return [ValidationRuleSet.of(view) for view in views]


@strawberry.type
class ValidationRulesMutation:
    @strawberry.mutation(
        permission_classes=[allowed(policy.ADMIN)],
        description="Replace the client's own validation rules for an entity (a new version). "
        "They apply, after the built-in rules, to records processed from now on; "
        "replayQuarantined re-checks held records with them.",
    )
    async def set_validation_rules(
        self, info: Info, input: SetValidationRulesInput
    ) -> SetValidationRulesPayload:
        principal = _principal(info)
        given: list[Any] = list(input.rules)
        try:
            async with info.context.services.sessions() as session, session.begin():
                view = await rules.set_rules(
                    session, principal.tenant, input.entity, given, principal.key_id
                )
        except GatewayError as error:
            return SetValidationRulesPayload(rule_set=None, errors=UserError.all_from(error))
        return SetValidationRulesPayload(rule_set=ValidationRuleSet.of(view), errors=[])
