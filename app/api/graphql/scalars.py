"""Scalars. Records travel as JSON objects shaped by the published JSON Schema of their entity,
so one malformed record is reported with its field path instead of rejecting the whole call."""

from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

ProductRecord = NewType("ProductRecord", object)
AssetRecord = NewType("AssetRecord", object)
CampaignRecord = NewType("CampaignRecord", object)
AudienceRecord = NewType("AudienceRecord", object)
JSONObject = NewType("JSONObject", object)
PlatformRecord = NewType("PlatformRecord", object)


def _identity(value: Any) -> Any:
    return value


def _record_scalar(name: str, entity: str) -> ScalarDefinition:
    return strawberry.scalar(
        name=name,
        description=(
            f"A {entity} record as a JSON object, shaped by the standard schema v1 contract "
            f"(/contracts/{entity}.schema.json). Field names are snake_case as in the contract. "
            "Each record is validated on its own: an invalid one is reported with its field path "
            "in the job's errors, the valid ones are stored."
        ),
        specified_by_url=f"/contracts/{entity}.schema.json",
        serialize=_identity,
        parse_value=_identity,
    )


SCALARS: dict[object, ScalarDefinition] = {
    PlatformRecord: strawberry.scalar(
        name="PlatformRecord",
        description=(
            "A record in the platform's own shape (e.g. a Shopify REST product, a HubSpot CRM v3 "
            "contact), as a JSON object. The platform's mapping rules turn it into the standard "
            "schema; a record that cannot be mapped or validated is reported with the path of "
            "the native field in the job's errors, e.g. records[2].variants[0].price."
        ),
        serialize=_identity,
        parse_value=_identity,
    ),
    ProductRecord: _record_scalar("ProductRecord", "product"),
    AssetRecord: _record_scalar("AssetRecord", "asset"),
    CampaignRecord: _record_scalar("CampaignRecord", "campaign"),
    AudienceRecord: _record_scalar("AudienceRecord", "audience"),
    JSONObject: strawberry.scalar(
        name="JSONObject",
        description="A JSON object.",
        serialize=_identity,
        parse_value=_identity,
    ),
}
