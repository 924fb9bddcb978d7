"""Shopify REST products map to standard Products that validate against the contract."""

import copy
from typing import Any

import pytest

from app.contracts.entities import Entity, Product
from app.contracts.fields import SourcePlatform
from app.transform.context import ClientDefaults
from app.transform.loader import load_mappings
from app.transform.mapping import RecordMapper
from tests.unit.transform.conftest import fixture

EUR_SHOP = ClientDefaults(currency="EUR")


@pytest.fixture(scope="module")
def mapper() -> RecordMapper:
    rules = load_mappings()[(SourcePlatform.SHOPIFY, Entity.PRODUCT)]
    return RecordMapper(rules, EUR_SHOP)


def _eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _image(n: int, name: str, alt: str | None) -> dict[str, Any]:
    version = "1727792220" if name == "sand" else "1727792160"
    url = f"https://cdn.shopify.com/s/files/1/0612/3456/7890/products/linen-shirt-{name}.jpg"
    image: dict[str, Any] = {"url": f"{url}?v={version}", "position": n}
    return image | ({"alt": alt} if alt else {})


LINEN_SHIRT = {
    "source_platform": "shopify",
    "external_id": "8072389472001",
    "source_updated_at": "2026-11-01T10:00:00Z",
    "source_created_at": "2026-10-01T14:15:00Z",
    "name": "Linen Shirt",
    "description": "Breathable European linen, garment-dyed for a soft hand.\n\n"
    "Relaxed fit & mother-of-pearl buttons.\nMachine wash cold.\n\n"
    "- 100% linen\n- Made in Portugal",
    "vendor": "Atelier Nord",
    "categories": ["Shirts"],
    "tags": ["summer", "Linen", "new-arrival"],
    "status": "active",
    "sku": "LS-001-S-WHT",
    "price": _eur("49.90"),
    "compare_at_price": _eur("59.90"),
    "images": [
        _image(0, "white-front", "Linen Shirt in white, front"),
        _image(1, "white-back", None),
        _image(2, "sand", "Linen Shirt in sand"),
    ],
    "variants": [
        {
            "external_id": "44012345678901",
            "sku": "LS-001-S-WHT",
            "name": "S / White",
            "price": _eur("49.90"),
            "options": {"Size": "S", "Color": "White"},
            "inventory_quantity": 12,
        },
        {
            "external_id": "44012345678902",
            "sku": "LS-001-M-WHT",
            "name": "M / White",
            "price": _eur("49.90"),  # "49.9" in Shopify: the same amount, the same string
            "options": {"Size": "M", "Color": "White"},
            "inventory_quantity": 0,
        },
        {
            "external_id": "44012345678903",
            "name": "L / Sand",
            "price": _eur("54.00"),
            "options": {"Size": "L", "Color": "Sand"},
            "inventory_quantity": -2,  # oversold: Shopify allows it with 'continue'
        },
    ],
    "attributes": {"handle": "linen-shirt", "shopify_gid": "gid://shopify/Product/8072389472001"},
}


def test_a_product_with_variants_and_images_maps_to_the_golden_record(
    mapper: RecordMapper,
) -> None:
    data, errors = mapper.map(fixture("shopify_product_linen_shirt.json"))
    assert errors == []
    assert data == LINEN_SHIRT
    product = Product.model_validate(data)
    assert product.price is not None and product.price.amount == "49.90"


def test_the_mapped_record_survives_the_contract_unchanged(mapper: RecordMapper) -> None:
    data, _ = mapper.map(fixture("shopify_product_linen_shirt.json"))
    dumped = Product.model_validate(data).model_dump(mode="json", exclude_none=True)
    assert dumped["variants"] == data["variants"]
    assert dumped["description"] == data["description"]


def test_a_single_variant_draft_without_sku_or_images(mapper: RecordMapper) -> None:
    data, errors = mapper.map(fixture("shopify_product_gift_card.json"))
    assert errors == []
    assert data == {
        "source_platform": "shopify",
        "external_id": "8072389473555",
        "source_updated_at": "2026-09-12T12:05:30Z",
        "source_created_at": "2026-09-12T12:00:00Z",
        "name": "Gift Card",
        "vendor": "Atelier Nord",
        "status": "draft",
        "price": _eur("25.00"),
        "variants": [
            {
                "external_id": "44012345679999",
                "name": "Default Title",
                "price": _eur("25.00"),
                "options": {},
                "inventory_quantity": 0,
            }
        ],
        "attributes": {"handle": "gift-card", "shopify_gid": "gid://shopify/Product/8072389473555"},
    }
    Product.model_validate(data)


def test_the_shops_currency_comes_from_the_client(mapper: RecordMapper) -> None:
    usd = RecordMapper(mapper.rules, ClientDefaults(currency="USD"))
    data, _ = usd.map(fixture("shopify_product_gift_card.json"))
    assert data["price"] == {"amount": "25.00", "currency": "USD"}


def test_without_a_client_currency_prices_are_errors_not_guesses(mapper: RecordMapper) -> None:
    data, errors = RecordMapper(mapper.rules).map(fixture("shopify_product_gift_card.json"))
    assert {(e.code, e.dotted_path) for e in errors} == {
        ("invalid_currency", "price"),
        ("invalid_currency", "variants[0].price"),
    }
    assert "price" not in data


def _broken() -> dict[str, Any]:
    product = fixture("shopify_product_linen_shirt.json")
    product["variants"][1]["price"] = "12,50"
    product["variants"][2]["id"] = None
    product["tags"] = 7
    product["status"] = "unlisted"
    product["updated_at"] = "yesterday"
    return product


def test_bad_fields_name_the_source_and_the_target(mapper: RecordMapper) -> None:
    _, errors = mapper.map(_broken())
    found = {(e.code, e.dotted_path, getattr(e, "source", None)) for e in errors}
    assert found == {
        ("invalid_amount", "variants[1].price", "variants[1].price"),
        ("missing_source", "variants[2].external_id", "variants[2].id"),
        ("invalid_type", "tags", "tags"),
        ("unmapped_value", "status", "status"),
        ("invalid_date", "source_updated_at", "updated_at"),
    }
    price_error = next(e for e in errors if e.code == "invalid_amount")
    assert price_error.message.startswith("variants[1].price → variants[1].price: '12,50'")


def test_a_bad_field_does_not_lose_the_good_ones(mapper: RecordMapper) -> None:
    data, _ = mapper.map(_broken())
    assert data["variants"][0]["price"] == _eur("49.90")
    assert data["name"] == "Linen Shirt"


def test_mapping_does_not_change_the_native_record(mapper: RecordMapper) -> None:
    native = fixture("shopify_product_linen_shirt.json")
    before = copy.deepcopy(native)
    mapper.map(native)
    assert native == before


@pytest.mark.parametrize("junk", [None, [], "product", 42])
def test_a_record_that_is_not_an_object(mapper: RecordMapper, junk: object) -> None:
    _, errors = mapper.map(junk)
    assert [e.code for e in errors] == ["invalid_type"]


def test_variants_of_the_wrong_type(mapper: RecordMapper) -> None:
    product = fixture("shopify_product_gift_card.json") | {"variants": {"id": 1}}
    _, errors = mapper.map(product)
    assert {e.code for e in errors} == {"invalid_type"}
    assert all(e.message for e in errors)
