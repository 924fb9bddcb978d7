"""Published contract files generated from code: JSON Schemas per entity, the GraphQL SDL, the
REST API's OpenAPI document and the JSON Schemas of the rule files (validation and mapping)."""

from pathlib import Path
from typing import Any

import orjson

from app.contracts.entities import ENTITY_MODELS, EXAMPLES, Entity

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SDL_PATH = Path("graphql") / "schema.graphql"
OPENAPI_PATH = Path("contracts") / "openapi.json"


def entity_json_schema(entity: Entity) -> dict[str, Any]:
    model = ENTITY_MODELS[entity]
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"/contracts/{entity.value}.schema.json",
        **schema,
        "examples": [EXAMPLES[entity]],
    }


def render_json(document: dict[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def contract_files() -> dict[Path, str]:
    """Relative path → exact file content, for every generated contract artifact."""
    from app.api.graphql.schema import schema
    from app.api.rest.openapi import published_openapi
    from app.rules.schema import SCHEMA_FILE_NAME as VALIDATION_RULES
    from app.rules.schema import validation_rules_schema
    from app.transform.rules import SCHEMA_FILE_NAME as MAPPING_RULES
    from app.transform.rules_schema import mapping_rules_schema

    files = {
        Path("contracts") / f"{entity.value}.schema.json": render_json(entity_json_schema(entity))
        for entity in Entity
    }
    files[SDL_PATH] = schema.as_str() + "\n"
    files[OPENAPI_PATH] = render_json(published_openapi())
    files[Path("contracts") / "rules" / VALIDATION_RULES] = render_json(validation_rules_schema())
    files[Path("contracts") / "mappings" / MAPPING_RULES] = render_json(mapping_rules_schema())
    return files


def export_contracts(root: Path) -> list[Path]:
    written = []
    for relative, content in contract_files().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != content:
            target.write_text(content)
            written.append(relative)
    return written
