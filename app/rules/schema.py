"""The JSON Schema of validation rule files and of the rules clients set
(contracts/rules/validation-rules.schema.json), generated from the rule models so that it
cannot drift from them. Written by `gateway contracts export` (app.contracts.export), whose drift
test covers it."""

from typing import Any

from app.rules.loader import RULES_DIR
from app.rules.spec import RuleFileSpec

SCHEMA_FILE_NAME = "validation-rules.schema.json"
SCHEMA_PATH = RULES_DIR / SCHEMA_FILE_NAME
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def validation_rules_schema() -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"/contracts/rules/{SCHEMA_FILE_NAME}",
        **RuleFileSpec.model_json_schema(by_alias=True),
    }
