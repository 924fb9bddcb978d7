"""WooCommerce variations: ids only (WooCommerce's own product) give no variants; variations
embedded whole give one variant each; a variation read on its own is its own product, linked to
its parent."""

import copy
from typing import Any

import pytest

from tests.fixtures.platforms import PAGES

WOO = next(p for p in PAGES if p.name == "woocommerce/products")
EXPANDED = next(p for p in PAGES if p.name == "woocommerce/products-expanded")
VARIATIONS = next(p for p in PAGES if p.name == "woocommerce/variations")


def _map(record: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    data, errors = WOO.mapper().map(record)
    return data, [(e.code, e.dotted_path, getattr(e, "source", "")) for e in errors]


def test_a_variable_product_listing_variation_ids_has_no_variants_and_no_error() -> None:
    [_, variable] = WOO.records()
    assert variable["type"] == "variable" and variable["variations"] == [813, 814]
    data, errors = _map(variable)
    assert errors == [] and "variants" not in data


def test_embedded_variations_become_variants_with_their_options_and_sale_price() -> None:
    [product] = EXPANDED.records()
    data, errors = _map(product)
    assert errors == []
    grey, navy = data["variants"]
    assert grey == {
        "external_id": "813",
        "sku": "WB-GREY",
        "name": "Wool Beanie - Grey",
        "price": {"amount": "19.00", "currency": "EUR"},  # the sale price while one is set
        "options": {"Colour": "Grey"},
        "inventory_quantity": 7,
    }
    assert "sku" not in navy and "inventory_quantity" not in navy  # "" and null are unset


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda vs: vs.append(815), "not a mix"),
        (lambda vs: vs[1].update(sale_price="", regular_price="", price={"x": 1}), "[1]:"),
        (lambda vs: vs[0].update(id=None), "[0]:"),
        (lambda vs: vs[0].update(stock_quantity="many"), "[0]:"),
    ],
)
def test_a_bad_embedded_variation_is_an_error_on_variants_naming_it(
    change: Any, message: str
) -> None:
    [product] = copy.deepcopy(EXPANDED.records())
    change(product["variations"])
    data, errors = _map(product)
    on_variants = [e[1:] for e in errors if e[1] != "attributes.variation_ids"]  # tested below
    assert on_variants == [("variants", "variations")]
    assert "variants" not in data and data["name"] == "Wool Beanie"  # the rest is kept
    found = WOO.mapper().map(product)[1][0].message
    assert message in found


def test_a_variation_read_on_its_own_is_its_own_product_linked_to_its_parent() -> None:
    grey, navy = (WOO.mapper().map(record)[0] for record in VARIATIONS.records())
    assert grey["external_id"] == "813" and grey["attributes"]["parent_external_id"] == "812"
    assert grey["variants"] == [
        {
            "external_id": "813",
            "sku": "WB-GREY",
            "name": "Wool Beanie - Grey",
            "price": {"amount": "19.00", "currency": "EUR"},
            "options": {"Colour": "Grey"},
            "inventory_quantity": 7,
        }
    ]
    assert grey["compare_at_price"] == {"amount": "24.00", "currency": "EUR"}
    # No *_gmt date: the site's local time in the client's timezone (Berlin, CET that day).
    assert navy["source_updated_at"] == "2026-10-26T08:00:00Z"
    assert navy["status"] == "draft" and "images" not in navy


def test_a_variation_without_its_parent_id_is_held() -> None:
    [grey, _] = copy.deepcopy(VARIATIONS.records())
    del grey["parent_id"]
    _, errors = _map(grey)
    assert errors == [("missing_source", "attributes.parent_external_id", "parent_id")]


def test_the_variations_a_product_lists_are_kept_as_its_variation_ids() -> None:
    simple, variable = WOO.records()
    assert _map(variable)[0]["attributes"]["variation_ids"] == "813,814"
    assert _map(simple)[0]["attributes"]["variation_ids"] == ""  # an empty list lists none
    without = {k: v for k, v in variable.items() if k != "variations"}
    assert "variation_ids" not in _map(without)[0]["attributes"]  # says nothing
    [expanded] = EXPANDED.records()
    assert _map(expanded)[0]["attributes"]["variation_ids"] == "813,814"


@pytest.mark.parametrize(
    ("variations", "message"),
    [
        ("813", "expected a list of variations, got str"),
        ([813, None], "[1]: expected an id (string or integer), got NoneType"),
        ([{"sku": "X"}], "[0]: expected an id (string or integer), got NoneType"),
        (["81,3"], "[0]: '81,3' holds a comma"),
    ],
)
def test_variation_ids_that_are_not_ids_are_field_errors(variations: Any, message: str) -> None:
    [_, variable] = WOO.records()
    data, errors = WOO.mapper().map({**variable, "variations": variations})
    assert "variation_ids" not in data["attributes"]
    found = [e for e in errors if e.dotted_path == "attributes.variation_ids"]
    assert [e.message for e in found] == [f"variations → attributes.variation_ids: {message}"]
