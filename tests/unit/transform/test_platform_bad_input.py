"""Bad native input ends as precise mapping errors naming the standard field and the native
path, never as an exception, and never costs the record's good fields."""

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.transform.paths import get, parse_path, put
from tests.fixtures.platforms import PAGES, Page

BY_NAME = {page.name: page for page in PAGES}

# page, record index, native path → bad value, expected (code, standard path, native path)
CASES: list[tuple[str, int, str, Any, tuple[str, str, str]]] = [
    (
        "salesforce/product2-query",
        0,
        "PricebookEntries.records[2].UnitPrice",
        {"amount": 49.9},
        ("invalid_amount", "price", "PricebookEntries"),
    ),
    (
        "salesforce/product2-query",
        2,
        "PricebookEntries.records[0].UnitPrice",
        1e30,
        ("invalid_amount", "price", "PricebookEntries"),
    ),
    (
        "salesforce/product2-query",
        0,
        "SystemModstamp",
        "9999-12-31T00:00:00.000+0000",
        ("invalid_date", "source_updated_at", "SystemModstamp"),
    ),
    ("salesforce/product2-query", 1, "Name", None, ("missing_source", "name", "Name")),
    ("salesforce/campaign-query", 0, "Name", "", ("missing_source", "name", "Name")),
    (
        "salesforce/contact-query",
        0,
        "Email",
        "ana at example",
        ("invalid_email", "email", "Email"),
    ),
    (
        "woocommerce/products",
        0,
        "sale_price",
        {"amount": "39.90"},
        ("invalid_amount", "price", "sale_price"),
    ),
    ("woocommerce/products", 0, "tags", 5, ("invalid_type", "tags", "tags")),
    (
        "woocommerce/products",
        0,
        "regular_price",
        "1e30",
        ("invalid_amount", "compare_at_price", "regular_price + sale_price"),
    ),
    (
        "woocommerce/products",
        0,
        "date_modified_gmt",
        "9999-01-01T00:00:00",
        ("invalid_date", "source_updated_at", "date_modified_gmt"),
    ),
    ("woocommerce/products", 1, "name", "   ", ("missing_source", "name", "name")),
    (
        "woocommerce/customers",
        1,
        "billing",
        "Lena Hoffmann",
        ("invalid_type", "email", "email | billing.email"),
    ),
    (
        "shopify/products-graphql",
        0,
        "variants.nodes[1].price",
        {"value": "49.90"},
        ("invalid_amount", "variants[1].price", "variants.nodes[1].price"),
    ),
    ("shopify/products-graphql", 0, "tags", 7, ("invalid_type", "tags", "tags")),
    (
        "shopify/products-graphql",
        0,
        "variants.nodes[0].id",
        "gid://shopify/Product/1",
        ("invalid_id", "variants[0].external_id", "variants.nodes[0].id"),
    ),
    ("shopify/products-graphql", 1, "title", None, ("missing_source", "name", "title")),
    ("shopify/customers", 0, "tags", 42, ("invalid_type", "tags", "tags")),
    (
        "hubspot/products",
        0,
        "properties.price",
        "1e30",
        ("invalid_amount", "price", "properties.price"),
    ),
    (
        "hubspot/products",
        1,
        "properties.hs_lastmodifieddate",
        "253370764800000",
        ("invalid_date", "source_updated_at", "properties.hs_lastmodifieddate"),
    ),
    (
        "hubspot/campaigns",
        1,
        "properties.hs_name",
        None,
        ("missing_source", "name", "properties.hs_name"),
    ),
]


def _broken(page: Page, index: int, path: str, value: Any) -> dict[str, Any]:
    record = copy.deepcopy(page.records()[index])
    put(record, parse_path(path).segments, value)
    return dict(record)


@pytest.mark.parametrize(
    ("name", "index", "path", "value", "expected"),
    CASES,
    ids=[f"{name}[{index}].{path}" for name, index, path, _, _ in CASES],
)
def test_bad_native_input_is_a_precise_mapping_error(
    name: str, index: int, path: str, value: Any, expected: tuple[str, str, str]
) -> None:
    page = BY_NAME[name]
    data, errors = page.mapper().map(_broken(page, index, path, value))
    found = [(e.code, e.dotted_path, getattr(e, "source", "")) for e in errors]
    assert expected in found
    error = errors[found.index(expected)]
    assert error.message.startswith(f"{expected[2]} → {expected[1]}: ")
    good = page.expected()[index]["data"]
    assert data["external_id"] == good["external_id"] or expected[1] == "external_id"


def test_a_bad_price_names_the_price_book_entry() -> None:
    page = BY_NAME["salesforce/product2-query"]
    record = _broken(page, 0, "PricebookEntries.records[2].UnitPrice", "forty")
    [error] = page.mapper().map(record)[1]
    assert "records[2].UnitPrice: 'forty' is not a usable amount" in error.message


def _leaves(node: Any, prefix: str = "") -> list[str]:
    """Every path to a scalar (or empty container) in a native record."""
    if isinstance(node, dict) and node:
        return [
            leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else k)
        ]
    if isinstance(node, list) and node:
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{prefix}[{i}]")]
    return [prefix] if prefix else []


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "1e30", "9999-12-31", "gid://shopify/Product/x", "<p>x</p>"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
RECORDS = [(page, i) for page in PAGES for i in range(len(page.records()))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_native_value_anywhere_makes_mapping_raise(data: st.DataObject) -> None:
    page, index = data.draw(st.sampled_from(RECORDS))
    record = copy.deepcopy(page.records()[index])
    for path in data.draw(st.lists(st.sampled_from(_leaves(record)), min_size=1, max_size=3)):
        segments = parse_path(path).segments
        if get(record, segments[:-1]) is not None:
            put(record, segments, data.draw(JSON))
    mapped, errors = page.mapper().map(record)
    assert mapped["source_platform"] == page.platform.value
    assert all(error.code != "transform_failed" for error in errors), errors
