"""Shape files (one platform entity in several API shapes) and fallback rules, when loading."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.transform.context import ClientDefaults
from app.transform.errors import RuleFileError
from app.transform.loader import load_mappings, read_rule_file
from app.transform.mapping import RecordMapper
from tests.unit.transform.conftest import PRODUCT_ESSENTIALS

GRAPHQL_ESSENTIALS = [
    {
        "target": "external_id",
        "source": "id",
        "transform": "gid_to_id",
        "args": {"type": "Product"},
    },
    {"target": "source_updated_at", "source": "updatedAt", "transform": "date"},
    {"target": "name", "source": "title", "transform": "text"},
]
WHEN = {"source": "id", "matches": "^gid://"}


def _write(directory: Path, name: str, rules: list[dict[str, Any]], **extra: Any) -> None:
    (directory / name).write_text(json.dumps({"description": "test", "rules": rules, **extra}))


def _problems(directory: Path) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_mappings(directory)
    return [str(problem) for problem in caught.value.problems]


def test_each_record_is_mapped_by_the_shape_it_has(tmp_path: Path) -> None:
    _write(tmp_path, "custom.product.json", PRODUCT_ESSENTIALS)
    _write(tmp_path, "custom.product.graphql.json", GRAPHQL_ESSENTIALS, when=WHEN)
    [rules] = load_mappings(tmp_path).values()
    mapper = RecordMapper(rules, ClientDefaults())
    rest = {"id": 7, "updated": "2026-11-01T10:00:00Z", "title": "Tote"}
    graphql = {
        "id": "gid://shopify/Product/7",
        "updatedAt": "2026-11-01T10:00:00Z",
        "title": "Tote",
    }
    assert mapper.map(rest) == mapper.map(graphql)
    assert mapper.map(rest)[0]["external_id"] == "7"


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"custom.product.graphql.json": WHEN},
            "custom.product.graphql.json: a shape file needs custom.product.json",
        ),
        (
            {"custom.product.json": WHEN},
            "custom.product.json: `when` is only for shape files",
        ),
        (
            {"custom.product.json": None, "custom.product.graphql.json": {}},
            "a shape file needs `when`",
        ),
        (
            {
                "custom.product.json": None,
                "custom.product.graphql.json": {"source": "a[*].b", "matches": "x"},
            },
            "when.source 'a[*].b' must not contain [*]",
        ),
        (
            {
                "custom.product.json": None,
                "custom.product.graphql.json": {"source": "id", "matches": "(("},
            },
            "when.matches is not a regular expression",
        ),
        ({"custom.product.a.b.json": None}, "file name must be <platform>.<entity>.json or"),
    ],
)
def test_bad_shape_files(tmp_path: Path, files: dict[str, Any], problem: str) -> None:
    for name, when in files.items():
        extra = {"when": when} if when else {}
        _write(tmp_path, name, PRODUCT_ESSENTIALS, **extra)
    problems = _problems(tmp_path)
    assert any(problem in found for found in problems), problems


Writer = Callable[..., Path]


def test_a_fallback_fills_only_what_the_earlier_rule_left_unset(write_rules: Writer) -> None:
    rules = read_rule_file(
        write_rules(
            [
                *PRODUCT_ESSENTIALS,
                {
                    "target": "source_created_at",
                    "source": "created_gmt",
                    "transform": "date",
                    "args": {"timezone": "UTC"},
                },
                {
                    "target": "source_created_at",
                    "source": "created",
                    "transform": "date",
                    "fallback": True,
                },
            ]
        )
    )
    mapper = RecordMapper(rules, ClientDefaults())
    base = {"id": 7, "updated": "2026-11-01T10:00:00Z", "title": "Tote"}
    both = base | {"created_gmt": "2026-07-01T10:00:00", "created": "2026-07-01T12:00:00"}
    assert mapper.map(both)[0]["source_created_at"] == "2026-07-01T10:00:00Z"
    local_only = base | {"created_gmt": None, "created": "2026-07-01T12:00:00"}
    assert mapper.map(local_only)[0]["source_created_at"] == "2026-07-01T12:00:00Z"


def test_a_fallback_per_list_element(write_rules: Writer) -> None:
    rules = read_rule_file(
        write_rules(
            [
                *PRODUCT_ESSENTIALS,
                {"target": "images[*].url", "source": "pics[*].url", "transform": "text"},
                {
                    "target": "images[*].url",
                    "source": "pics[*].src",
                    "transform": "text",
                    "fallback": True,
                },
            ]
        )
    )
    pics = [
        {"url": "https://x.example/1.jpg", "src": "https://x.example/old.jpg"},
        {"src": "https://x.example/2.jpg"},
    ]
    data, _ = RecordMapper(rules).map(
        {"id": 7, "updated": "2026-11-01T10:00:00Z", "title": "T", "pics": pics}
    )
    assert data["images"] == [
        {"url": "https://x.example/1.jpg"},
        {"url": "https://x.example/2.jpg"},
    ]


def test_a_fallback_needs_an_earlier_rule(write_rules: Writer) -> None:
    file = write_rules(
        [
            *PRODUCT_ESSENTIALS,
            {"target": "vendor", "source": "v", "transform": "text", "fallback": True},
        ]
    )
    with pytest.raises(RuleFileError) as caught:
        read_rule_file(file)
    assert [str(p) for p in caught.value.problems] == [
        "custom.product.json rule 3: fallback for 'vendor' without an earlier rule for it"
    ]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            {"transform": "gid_to_id", "args": {"type": "Product Variant"}},
            "bad args for gid_to_id: type: String should match pattern",
        ),
        (
            {"transform": "pricebook_price", "args": {"pricebook_id": "01s"}},
            "bad args for pricebook_price: pricebook_id: String should have at least 15 characters",
        ),
        (
            {"transform": "name_value_pairs", "args": {"name_key": ""}},
            "bad args for name_value_pairs: name_key",
        ),
        (
            {"transform": "date", "args": {"date_only": "noon"}},
            "bad args for date: date_only: Input should be 'start_of_day' or 'end_of_day'",
        ),
        (
            {"transform": "money", "args": {"money_object": "yes please"}},
            "bad args for money: money_object",
        ),
    ],
)
def test_misused_platform_transforms_fail_at_load_time(
    write_rules: Writer, rule: dict[str, Any], problem: str
) -> None:
    file = write_rules([*PRODUCT_ESSENTIALS, {"target": "vendor", "source": "v"} | rule])
    with pytest.raises(RuleFileError) as caught:
        read_rule_file(file)
    [found] = [str(p) for p in caught.value.problems]
    assert problem in found
