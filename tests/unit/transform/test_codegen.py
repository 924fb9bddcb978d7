"""A rule set runs as one generated function (app.transform.codegen), falling back to its
compiled steps for unusual records: on every platform page, on pages broken at any place, and
on made-up records under rules of every shape, the records (key order too) and the errors
(codes, messages, paths, sources and order) are exactly those of the steps."""

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import FieldError
from app.transform.codegen import Unusual
from app.transform.context import Scope
from app.transform.mapping import RecordMapper, _program
from app.transform.rules import MappingRules
from tests.fixtures.platforms import DEFAULTS, PAGES, Page
from tests.unit.transform.conftest import (
    ODD_VALUES,
    RuleFactory,
    broken,
    fixture,
    mapped_by_steps,
    places,
)


def _seen(errors: list[FieldError]) -> list[tuple[Any, ...]]:
    return [
        (type(e).__name__, e.code, e.path, e.message, getattr(e, "source", None)) for e in errors
    ]


def _same(rules: MappingRules, record: Any) -> None:
    by_steps = mapped_by_steps(rules, record, DEFAULTS)
    generated = RecordMapper(rules, DEFAULTS).map(record)
    assert orjson.dumps(generated[0]) == orjson.dumps(by_steps[0])
    assert _seen(generated[1]) == _seen(by_steps[1])


def _usual(rules: MappingRules, record: Any) -> bool:
    """Whether the generated function maps the record without falling back."""
    _, mapped = _program(rules.for_record(record))
    try:
        mapped(Scope(DEFAULTS, record), {}, [])
    except Unusual:
        return False
    return True


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_each_page_maps_as_by_the_steps(page: Page) -> None:
    rules = page.mapper().rules
    for record in page.records():
        _same(rules, record)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_pages_records_take_the_generated_way(page: Page) -> None:
    """Otherwise the test above compares the steps with themselves."""
    rules = page.mapper().rules
    assert any(_usual(rules, record) for record in page.records())


def test_a_broken_record_falls_back_to_the_steps() -> None:
    page = next(page for page in PAGES if page.name == "shopify/products-graphql")
    record = broken(fixture("shopify_product_linen_shirt.json"), ("title",), None)  # required
    assert not _usual(page.mapper().rules, record)
    _, errors = page.mapper().map(record)
    assert [(error.code, error.path) for error in errors] == [("missing_source", ("name",))]


# Values that leave the usual cases the generated function writes out (text that is not ASCII
# or holds controls, padded or upper-cased lookup keys, bools and floats where ids and integers
# go): they reach the transform itself.
_UNUSUAL_VALUES = ODD_VALUES | st.sampled_from(
    [" x  y ", "é", "a\tb", "x\n", "ACTIVE", " active ", "active", False, 0, 1.0, "12", [[]]]
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAGES), st.data(), _UNUSUAL_VALUES)
def test_broken_records_map_as_by_the_steps(page: Page, data: st.DataObject, value: Any) -> None:
    record = data.draw(st.sampled_from(page.records()))
    found = places(record)
    if found:
        _same(page.mapper().rules, broken(record, data.draw(st.sampled_from(found)), value))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
@pytest.mark.parametrize("element", [7, "x", None, {}, [{}]])
def test_a_broken_array_element_maps_as_by_the_steps(page: Page, element: Any) -> None:
    rules = page.mapper().rules
    for record in page.records():
        for path in places(record):
            if isinstance(path[-1], int):
                _same(rules, broken(record, path, element))


# Rules of the shapes the generator writes out and of those it leaves to the steps: defaults,
# required values, indices, deep targets, element groups, fallbacks, several sources, and the
# transforms whose usual case it writes out (text, id, integer, lookup, copy).
LOOKUP = {"active": "active", "x": "draft", "": "archived", "2": None}
SHAPES: list[list[dict[str, Any]]] = [
    [{"target": "vendor", "source": "a.b", "transform": "text", "default": "none"}],
    [{"target": "attributes.first", "source": "list[1].b", "transform": "text"}],
    [{"target": "price.amount", "source": "a", "transform": "decimal_string"}],
    [{"target": "images[*].url", "source": "list[*].b", "transform": "text", "required": True}],
    [{"target": "images[*].alt", "source": "list[*].a", "transform": "text"}],
    [{"target": "images[*].position", "source": "list[*].b", "transform": "integer"}],
    [{"target": "tags", "source": "list[*]", "transform": "tags"}],
    [{"target": "categories[*]", "source": "list[*].a", "transform": "text"}],
    [{"target": "variants[*].sku", "source": "other[*]", "transform": "text", "default": "-"}],
    [
        {"target": "description", "source": ["b", "a.b"], "transform": "html_to_text"},
        {"target": "description", "source": "c", "transform": "text", "fallback": True},
    ],
    [
        {"target": "attributes.second", "source": "b", "transform": "integer"},
        {
            "target": "attributes.second",
            "source": ["c", "a.b"],
            "transform": "text",
            "fallback": True,
        },
    ],
    [
        {
            "target": "attributes.both",
            "source": ["a.b", "c"],
            "transform": "text",
            "default": 0,
        }
    ],
    [{"target": "status", "source": "b", "transform": "lookup", "args": {"map": LOOKUP}}],
    [{"target": "attributes.copied", "source": "c", "transform": "copy"}],
    [{"target": "variants[*].external_id", "source": "list[*].a", "transform": "id"}],
    [
        {
            "target": "variants[*].inventory_quantity",
            "source": "other[*]",
            "transform": "integer",
            "args": {"offset": -1},
        }
    ],
    [{"target": "attributes.ids", "source": ["c", "a"], "transform": "variation_ids"}],
    [{"target": "sku", "source": ["c", "other[*].a"], "transform": "first_variant_sku"}],
    [{"target": "variants[*].name", "source": ["list[*].a", "other[*]"], "transform": "text"}],
    [
        {
            "target": "variants[*].price",
            "source": ["list[*].b", "other[*].a.b"],
            "transform": "money",
            "required": True,
        }
    ],
    [
        {
            "target": "variants[*].options",
            "source": ["list[*].a", "other[*]"],
            "transform": "copy",
            "default": {},
        }
    ],
]
_KEYS = st.sampled_from(["a", "b", "c", "list", "other", "id", "title", "updated"])
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(["", " ", "x", "<b>y", " X ", "é", "a\tb", "2", 2.5, 1.0])
)
_JSON = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=12,
)
_RECORDS = st.fixed_dictionaries(
    {"id": st.sampled_from([1, "p-1"]), "title": st.just("T"), "updated": st.just("2026-11-01")},
    optional={key: _JSON for key in ["a", "b", "c", "list", "other"]},
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_RECORDS, st.lists(st.sampled_from(range(len(SHAPES))), min_size=1, max_size=6))
def test_rules_of_every_shape_map_as_by_the_steps(
    product_rules: RuleFactory, record: dict[str, Any], picked: list[int]
) -> None:
    rules = product_rules(*(rule for index in sorted(set(picked)) for rule in SHAPES[index]))
    _same(rules, record)


def test_the_shapes_cover_the_usual_way(product_rules: RuleFactory) -> None:
    record = {"id": 1, "title": "T", "updated": "2026-11-01", "list": [{"a": "x", "b": "2"}]}
    assert _usual(product_rules(*(rule for rules in SHAPES for rule in rules)), record)


# A rule for each usual case the generated function writes out, a record that takes it, and
# the standard field it makes.
_USUAL_CASES: list[tuple[dict[str, Any], dict[str, Any], tuple[str, Any]]] = [
    ({"target": "vendor", "source": "c", "transform": "text"}, {"c": " c  d"}, ("vendor", "c d")),
    (
        {"target": "status", "source": "b", "transform": "lookup", "args": {"map": LOOKUP}},
        {"b": "x"},
        ("status", "draft"),
    ),
    (
        {"target": "status", "source": "b", "transform": "lookup", "args": {"map": LOOKUP}},
        {"b": "2"},
        ("status", None),
    ),
    (
        {"target": "attributes.copied", "source": "c", "transform": "copy"},
        {"c": {"d": 1}},
        ("attributes", {"copied": {"d": 1}}),
    ),
    (
        {"target": "variants[*].external_id", "source": "list[*].a", "transform": "id"},
        {"list": [{"a": 7}, {}, {"a": 9}]},
        ("variants", [{"external_id": "7"}, None, {"external_id": "9"}]),
    ),
    (
        {
            "target": "images[*].position",
            "source": "other[*]",
            "transform": "integer",
            "args": {"offset": -1},
        },
        {"other": [1, 2]},
        ("images", [{"position": 0}, {"position": 1}]),
    ),
    (
        {"target": "images[*].alt", "source": ["list[*].a.b", "other[*]"], "transform": "text"},
        {"list": [{"a": {"b": " x "}}, {}, {"a": {}}], "other": [None, "", "y", "z"]},
        ("images", [{"alt": "x"}, None, {"alt": "y"}, {"alt": "z"}]),
    ),
    (
        {"target": "sku", "source": ["c", "other[*].a"], "transform": "first_variant_sku"},
        {"other": [{}, {"a": {"sku": " s "}}, {"a": {"sku": "t"}}]},
        ("sku", "s"),
    ),
    (
        {"target": "attributes.both", "source": ["a.b", "c"], "transform": "text", "default": 0},
        {"c": "y"},
        ("attributes", {"both": "y"}),
    ),
]


@pytest.mark.parametrize(("rule", "fields", "made"), _USUAL_CASES)
def test_the_usual_cases_map_by_the_generated_function_as_by_the_steps(
    product_rules: RuleFactory, rule: dict[str, Any], fields: dict[str, Any], made: tuple[str, Any]
) -> None:
    record = {"id": 1, "title": "T", "updated": "2026-11-01", **fields}
    rules = product_rules(rule)
    assert _usual(rules, record)
    _same(rules, record)
    key, value = made
    assert RecordMapper(rules, DEFAULTS).map(record)[0].get(key) == value


def test_element_rules_of_several_sources_map_as_one_loop_as_by_the_steps(
    product_rules: RuleFactory,
) -> None:
    """Each rule over the same arrays fills its field of each element; an element the first
    rule leaves out is made by the next (the target list already longer, or not yet)."""
    rules = product_rules(
        {"target": "variants[*].sku", "source": ["list[*].a", "other[*].a"], "transform": "text"},
        {"target": "variants[*].name", "source": ["list[*].b", "other[*].b"], "transform": "text"},
    )
    record = {
        "id": 1,
        "title": "T",
        "updated": "2026-11-01",
        "list": [{"b": "n0"}, {"a": "s1"}, None, {"b": "n3"}],
        "other": [{}, {}, {}, {"a": "s3"}, {"b": "n4"}],
    }
    assert _usual(rules, record)
    _same(rules, record)
    assert RecordMapper(rules, DEFAULTS).map(record)[0]["variants"] == [
        {"name": "n0"},
        {"sku": "s1"},
        None,
        {"sku": "s3", "name": "n3"},
        {"name": "n4"},
    ]
