"""Helpers for the transformation tests: native fixtures and rule files written on the fly."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.transform.loader import read_rule_file
from app.transform.rules import MappingRules

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


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
