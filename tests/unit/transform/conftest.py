"""Helpers for the transformation tests: native fixtures and rule files written on the fly."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from app.errors import FieldError
from app.transform.context import ClientDefaults, Scope
from app.transform.loader import read_rule_file
from app.transform.mapping import compiled
from app.transform.rules import MappingRules

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# What a broken record may hold at any place instead of the platform's value.
ODD_VALUES = st.sampled_from(
    [None, "", "  ", "x", "Default Title", 7, -1, 2.5, True, [], {}, [1, "a"], {"a": 1}, "49.9"]
)


def mapped_by_steps(
    rules: MappingRules, record: Any, defaults: ClientDefaults
) -> tuple[dict[str, Any], list[FieldError]]:
    """The mapping by the rule set's compiled steps (no generated function)."""
    data: dict[str, Any] = {"source_platform": rules.platform.value}
    errors: list[FieldError] = []
    scope = Scope(defaults, record)
    for step in compiled(rules.for_record(record)):
        step(scope, data, errors)
    return data, errors


def places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in a native record (objects and list elements)."""
    found = [path] if path else []
    if isinstance(node, dict | list):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            found += places(child, (*path, key))
    return found


def broken(record: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of the record with `value` at `path`."""
    copied = copy.deepcopy(record)
    node = copied
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copied


RuleFactory = Callable[..., MappingRules]


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[..., Path]:
    """Write a rule file; returns its path (for loading-error tests)."""

    def write(rules: list[dict[str, Any]], name: str = "custom.product.json", **extra: Any) -> Path:
        file = tmp_path / name
        file.write_text(json.dumps({"description": "test rules", "rules": rules, **extra}))
        return file

    return write


PRODUCT_ESSENTIALS = [
    {"target": "external_id", "source": "id", "transform": "id"},
    {"target": "source_updated_at", "source": "updated", "transform": "date"},
    {"target": "name", "source": "title", "transform": "text"},
]


@pytest.fixture
def product_rules(write_rules: Callable[..., Path]) -> RuleFactory:
    """Loaded product rules: the essentials plus the rules under test."""

    def make(*rules: dict[str, Any]) -> MappingRules:
        return read_rule_file(write_rules([*PRODUCT_ESSENTIALS, *rules]))

    return make
