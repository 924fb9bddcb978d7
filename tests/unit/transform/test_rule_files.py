"""The committed mapping rule files: valid against their JSON Schema and loadable. (That the
schema itself is what the code generates is the contract drift test's job: tests/contract.)"""

import json
from pathlib import Path

import jsonschema
import pytest

from app.transform.loader import load_mappings, rule_files
from app.transform.rules import MAPPINGS_DIR, SCHEMA_FILE_NAME

SCHEMA_PATH = MAPPINGS_DIR / SCHEMA_FILE_NAME


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("file", rule_files(), ids=lambda file: file.name)
def test_each_committed_rule_file_validates_against_the_schema(file: Path) -> None:
    errors = sorted(_validator().iter_errors(json.loads(file.read_text())), key=str)
    assert errors == []


def test_the_committed_rule_files_load() -> None:
    loaded = load_mappings()
    assert {(p.value, e.value) for p, e in loaded} >= {
        ("shopify", "product"),
        ("hubspot", "audience"),
    }


@pytest.mark.parametrize(
    "rule",
    [
        {"target": "name", "source": "title", "transform": "uppercase"},
        {"target": "name", "source": "a..b"},
        {"target": "name", "source": "title", "transform": "lookup"},  # args.map required
        {"target": "name", "source": "t", "transform": "lookup", "args": {"map": {}}},
        {"target": "name", "source": "t", "transform": "text", "args": {"x": 1}},
        {"target": "name", "source": "t", "transform": "constant", "args": {"value": "x"}},
        {"target": "name", "source": "t", "unknown": True},
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(rule: dict[str, object]) -> None:
    document = {"description": "x", "rules": [rule]}
    assert list(_validator().iter_errors(document)) != []
