"""The JSON Schema of the mapping rule files (contracts/mappings/mapping-rules.schema.json),
generated from the rule models and the transform registry so that it cannot drift from them.
Written by `gateway contracts export` (app.contracts.export), whose drift test covers it."""

from typing import Any

from app.transform.rules import SCHEMA_FILE_NAME, RuleFileSpec
from app.transform.transforms import TRANSFORMS, Transform

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _args_schema(transform: Transform, defs: dict[str, Any]) -> dict[str, Any]:
    """The args model's schema; its $defs go to the document's (references are to the root)."""
    schema = transform.args.model_json_schema()
    schema.pop("title", None)
    defs.update(schema.pop("$defs", {}))
    return schema


def _per_transform(transform: Transform, defs: dict[str, Any]) -> dict[str, Any]:
    """`if transform is X then args follow X's args model` (and its source requirement)."""
    args = _args_schema(transform, defs)
    then: dict[str, Any] = {"properties": {"args": args}}
    if args.get("required"):
        then["required"] = ["args"]
    if not transform.needs_source:
        then["not"] = {"required": ["source"]}
    return {
        "if": {"properties": {"transform": {"const": transform.name}}},
        "then": then,
    }


def mapping_rules_schema() -> dict[str, Any]:
    schema = RuleFileSpec.model_json_schema(by_alias=True)
    rule = schema["$defs"]["RuleSpec"]
    rule["properties"]["transform"]["enum"] = list(TRANSFORMS)
    rule["properties"]["transform"]["description"] = "A named transform: " + "; ".join(
        f"{t.name}: {t.description}" for t in TRANSFORMS.values()
    )
    rule["allOf"] = [_per_transform(t, schema["$defs"]) for t in TRANSFORMS.values()]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"/contracts/mappings/{SCHEMA_FILE_NAME}",
        **schema,
    }
