"""The JSON Schema of validation rule files and of the rules clients set
(contracts/rules/validation-rules.schema.json), generated from the rule models so that it
cannot drift from them.

Regenerate: `.venv/bin/python -m app.rules.schema`.
"""

from pathlib import Path
from typing import Any

import orjson

from app.rules.loader import RULES_DIR
from app.rules.spec import RuleFileSpec

SCHEMA_FILE_NAME = "validation-rules.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def validation_rules_schema() -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"/contracts/rules/{SCHEMA_FILE_NAME}",
        **RuleFileSpec.model_json_schema(by_alias=True),
    }


def render() -> str:
    document = validation_rules_schema()
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def export(directory: Path = RULES_DIR) -> Path:
    target = directory / SCHEMA_FILE_NAME
    target.write_text(render())
    return target


if __name__ == "__main__":
    print(export())
