"""Which records are variations of a parent, and what a parent's variants become with them."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from app.contracts.entities import Entity
from app.db.models import VariantUpdate
from app.records.validation import ValidRecord, content_hash, validate_record
from app.records.variations import (
    HeldForParents,
    Variants,
    merge_held,
    split_variations,
    variation_of,
)
from tests.fixtures.platforms import PAGES

VARIATIONS = next(page for page in PAGES if page.name == "woocommerce/variations")
PRODUCTS = next(page for page in PAGES if page.name == "woocommerce/products")


def valid(data: dict[str, Any]) -> ValidRecord:
    found = validate_record(Entity.PRODUCT, orjson.dumps(data))
    assert isinstance(found, ValidRecord), found
    return found


def golden(page: Any, index: int) -> dict[str, Any]:
    return dict(page.expected()[index]["data"])


def held(variant_id: str, at: str, price: str) -> VariantUpdate:
    variant = {"external_id": variant_id, "price": {"amount": price, "currency": "EUR"}}
    return VariantUpdate(
        parent_external_id="812",
        variant_external_id=variant_id,
        variant=variant,
        source_updated_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
        applied_at=None,
    )


def test_a_mapped_woocommerce_variation_is_a_variation_of_its_parent() -> None:
    found = variation_of(valid(golden(VARIATIONS, 0)))
    assert found is not None
    assert (found.key, found.parent) == (("woocommerce", "813"), ("woocommerce", "812"))
    assert found.variant == golden(VARIATIONS, 0)["variants"][0]


@pytest.mark.parametrize(
    "change",
    [
        {"source_platform": "shopify"},
        {"attributes": {"parent_external_id": "812", "product_type": "simple"}},
        {"attributes": {"product_type": "variation"}},
    ],
    ids=["another platform", "not a variation", "no parent"],
)
def test_other_records_are_products_of_their_own(change: dict[str, Any]) -> None:
    assert variation_of(valid(golden(VARIATIONS, 0) | change)) is None


def test_a_variation_without_its_own_variant_is_built_from_its_fields() -> None:
    data = golden(VARIATIONS, 0)
    del data["variants"]
    found = variation_of(valid(data))
    assert found is not None
    assert found.variant == {
        "external_id": "813",
        "sku": "WB-GREY",
        "name": "Wool Beanie - Grey",
        "price": {"amount": "19.00", "currency": "EUR"},
        "inventory_quantity": 7,
    }


def test_variations_are_split_from_whole_products_of_products_only() -> None:
    records = {
        ("woocommerce", "794"): valid(golden(PRODUCTS, 0)),
        ("woocommerce", "813"): valid(golden(VARIATIONS, 0)),
    }
    whole, variations = split_variations(Entity.PRODUCT, records)
    assert list(whole) == [("woocommerce", "794")]
    assert [v.key for v in variations] == [("woocommerce", "813")]
    assert split_variations(Entity.CAMPAIGN, records) == (records, [])


def test_a_variant_replaces_the_one_of_its_id_or_is_added_last() -> None:
    data = {
        "name": "Beanie",
        "variants": [{"external_id": "813", "sku": "OLD"}, {"external_id": "9"}],
    }
    variants = Variants(data)
    assert variants.put({"external_id": "813", "sku": "NEW"}) is True
    assert variants.put({"external_id": "813", "sku": "NEW"}) is False  # the same: no change
    assert variants.into(data)["variants"] == [
        {"external_id": "813", "sku": "NEW"},
        {"external_id": "9"},
    ]
    assert variants.put({"external_id": "814"}) is True
    assert [v["external_id"] for v in variants.into(data)["variants"]] == ["813", "9", "814"]
    assert "814" in variants and "815" not in variants
    assert data["variants"][0]["sku"] == "OLD"  # the stored data is never changed in place


def test_a_duplicated_variant_id_is_replaced_where_it_first_appears() -> None:
    data = {"variants": [{"external_id": "7", "n": 1}, {"external_id": "7", "n": 2}]}
    variants = Variants(data)
    variants.put({"external_id": "7", "n": 3})
    assert variants.into(data)["variants"] == [{"external_id": "7", "n": 3}, data["variants"][1]]


def test_a_parent_without_variants_takes_all_its_held_variations() -> None:
    parent = valid(golden(PRODUCTS, 1))
    rows = {
        "813": held("813", "2026-10-01T00:00:00", "19.00"),
        "814": held("814", "2026-12-01T00:00:00", "24.00"),
    }
    taken = HeldForParents()
    merged = merge_held(parent, rows, taken)
    assert [v["external_id"] for v in merged.data["variants"]] == ["813", "814"]
    assert merged.content_hash == content_hash(merged.data) != parent.content_hash
    assert [row.variant_external_id for row in taken.applied[("woocommerce", "812")]] == [
        "813",
        "814",
    ]


def test_a_parent_listing_its_variants_takes_only_newer_variations_of_those() -> None:
    own = [
        {"external_id": "813", "price": {"amount": "15.00", "currency": "EUR"}},
        {"external_id": "814"},
    ]
    parent = valid(golden(PRODUCTS, 1) | {"variants": own})  # its own copy: 2026-10-25T00:30Z
    rows = {
        "813": held("813", "2026-10-01T00:00:00", "19.00"),  # older than the parent's copy
        "814": held("814", "2026-12-01T00:00:00", "24.00"),  # newer
        "815": held("815", "2026-12-01T00:00:00", "30.00"),  # not one of the parent's
    }
    taken = HeldForParents()
    merged = merge_held(parent, rows, taken)
    assert merged.data["variants"] == [parent.data["variants"][0], rows["814"].variant]
    assert merged.data["variants"][0]["price"]["amount"] == "15.00"
    key = ("woocommerce", "812")
    assert [r.variant_external_id for r in taken.applied[key]] == ["814"]
    assert [r.variant_external_id for r in taken.outdated[key]] == ["813"]


def test_a_parent_left_as_it_was_is_the_same_record() -> None:
    parent = valid(golden(PRODUCTS, 1) | {"variants": [{"external_id": "813"}]})
    rows = {"813": held("813", "2026-01-01T00:00:00", "19.00")}
    assert merge_held(parent, rows, HeldForParents()) is parent
