"""The platform transforms: gid_to_id, pricebook_price, name_value_pairs, money objects,
regular_price_on_sale, HTML-escaped tags and end-of-day dates."""

from typing import Any

import pytest

from app.transform.context import ClientDefaults
from app.transform.mapping import RecordMapper
from tests.unit.transform.conftest import RuleFactory

BASE = {"id": 7, "updated": "2026-11-01T10:00:00Z", "title": "Tote"}


def _map(
    rules: RuleFactory, *specs: dict[str, Any], currency: str | None = "EUR", **record: Any
) -> tuple[dict[str, Any], list[Any]]:
    mapper = RecordMapper(rules(*specs), ClientDefaults(currency=currency))
    return mapper.map(BASE | record)


def _codes(errors: list[Any]) -> list[tuple[str, str]]:
    return [(e.code, e.dotted_path) for e in errors]


GID = {"target": "attributes.gid_id", "source": "gid", "transform": "gid_to_id"}


@pytest.mark.parametrize(
    ("gid", "args", "expected"),
    [
        ("gid://shopify/Product/8072389472001", {}, "8072389472001"),
        ("gid://shopify/ProductVariant/44?inventory=1", {"type": "ProductVariant"}, "44"),
        (" gid://shopify/Customer/9 ", {"type": "Customer"}, "9"),
    ],
)
def test_gid_to_id(
    product_rules: RuleFactory, gid: str, args: dict[str, str], expected: str
) -> None:
    data, errors = _map(product_rules, GID | {"args": args}, gid=gid)
    assert errors == []
    assert data["attributes"]["gid_id"] == expected


@pytest.mark.parametrize(
    ("gid", "code", "message"),
    [
        ("gid://shopify/Collection/5", "invalid_id", "is a Collection GID, not Product"),
        ("8072389472001", "invalid_id", "is not a GID"),
        ("gid://shopify/Product/", "invalid_id", "is not a GID"),
        (8072389472001, "invalid_type", "expected a GID string"),
    ],
)
def test_gid_to_id_refuses_what_is_not_the_expected_gid(
    product_rules: RuleFactory, gid: object, code: str, message: str
) -> None:
    _, errors = _map(product_rules, GID | {"args": {"type": "Product"}}, gid=gid)
    assert _codes(errors) == [(code, "attributes.gid_id")]
    assert message in errors[0].message


PRICE = {"target": "price", "source": "PricebookEntries", "transform": "pricebook_price"}


def _entry(
    price: object, currency: str | None = None, standard: bool = True, **extra: Any
) -> dict[str, Any]:
    entry = {"UnitPrice": price, "IsActive": True, "Pricebook2Id": "01s000000000001AAA"}
    entry["Pricebook2"] = {"IsStandard": standard}
    return entry | ({"CurrencyIsoCode": currency} if currency else {}) | extra


def test_pricebook_price_prefers_the_clients_currency_in_the_standard_book(
    product_rules: RuleFactory,
) -> None:
    entries = {
        "totalSize": 3,
        "done": True,
        "records": [_entry(10, "EUR", standard=False), _entry(54, "USD"), _entry(49.9, "EUR")],
    }
    data, errors = _map(product_rules, PRICE, PricebookEntries=entries)
    assert errors == []
    assert data["price"] == {"amount": "49.90", "currency": "EUR"}
    data, _ = _map(product_rules, PRICE, currency="GBP", PricebookEntries=entries)
    assert data["price"] == {"amount": "54.00", "currency": "USD"}


def test_pricebook_price_skips_inactive_entries_and_reads_a_named_book(
    product_rules: RuleFactory,
) -> None:
    entries = [
        _entry(10, IsActive=False),
        _entry(12, standard=False, Pricebook2Id="01s00000000000BAAA"),
    ]
    data, errors = _map(product_rules, PRICE, PricebookEntries=entries)
    assert (data.get("price"), errors) == (None, [])
    named = PRICE | {"args": {"pricebook_id": "01s00000000000BAAA"}}
    data, _ = _map(product_rules, named, PricebookEntries=entries)
    assert data["price"] == {"amount": "12.00", "currency": "EUR"}
    with_inactive = PRICE | {"args": {"active_only": False}}
    data, _ = _map(product_rules, with_inactive, PricebookEntries=entries)
    assert data["price"]["amount"] == "10.00"


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ("none", "invalid_type"),
        ({"records": "x"}, "invalid_type"),
        ([1], "invalid_type"),
        ([_entry(True)], "invalid_amount"),
        ([_entry("12", "EURO")], "invalid_currency"),
    ],
)
def test_pricebook_price_errors(product_rules: RuleFactory, entries: object, code: str) -> None:
    _, errors = _map(product_rules, PRICE, PricebookEntries=entries)
    assert _codes(errors) == [(code, "price")]


def test_name_value_pairs(product_rules: RuleFactory) -> None:
    rule = {
        "target": "variants[*].options",
        "source": "vs[*].selected",
        "transform": "name_value_pairs",
        "args": {"skip_values": ["Default Title"]},
    }
    id_rule = {"target": "variants[*].external_id", "source": "vs[*].id", "transform": "id"}
    variants = [
        {"id": 1, "selected": [{"name": " Size ", "value": "M"}, {"name": "Color", "value": None}]},
        {"id": 2, "selected": [{"name": "Title", "value": "Default Title"}]},
        {"id": 3, "selected": [{"name": "Size", "value": 5}, "Size: L"]},
    ]
    data, errors = _map(product_rules, id_rule, rule, vs=variants)
    assert data["variants"][0]["options"] == {"Size": "M"}
    assert data["variants"][1]["options"] == {}
    assert _codes(errors) == [("invalid_type", "variants[2].options")]


def test_name_value_pairs_with_other_keys(product_rules: RuleFactory) -> None:
    rule = {
        "target": "attributes",
        "source": "meta_data",
        "transform": "name_value_pairs",
        "args": {"name_key": "key"},
    }
    data, _ = _map(product_rules, rule, meta_data=[{"id": 1, "key": "material", "value": "linen"}])
    assert data["attributes"] == {"material": "linen"}


MONEY_V2 = {
    "target": "price",
    "source": "price",
    "transform": "money",
    "args": {"money_object": True},
}


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("49.9", {"amount": "49.90", "currency": "EUR"}),
        ({"amount": "18.0", "currencyCode": "USD"}, {"amount": "18.00", "currency": "USD"}),
        ({"amount": "1500", "currency": "JPY"}, {"amount": "1500", "currency": "JPY"}),
        ({"amount": "5"}, {"amount": "5.00", "currency": "EUR"}),
    ],
)
def test_money_objects_when_allowed(
    product_rules: RuleFactory, price: object, expected: dict[str, str]
) -> None:
    data, errors = _map(product_rules, MONEY_V2, price=price)
    assert errors == []
    assert data["price"] == expected


def test_money_objects_are_errors_unless_allowed(product_rules: RuleFactory) -> None:
    plain = {"target": "price", "source": "price", "transform": "money"}
    _, errors = _map(product_rules, plain, price={"amount": "18.0", "currencyCode": "USD"})
    assert _codes(errors) == [("invalid_amount", "price")]
    _, errors = _map(product_rules, MONEY_V2, price={"amount": {"x": 1}, "currencyCode": "USD"})
    assert _codes(errors) == [("invalid_amount", "price")]


def test_regular_price_on_sale(product_rules: RuleFactory) -> None:
    rule = {
        "target": "compare_at_price",
        "source": ["regular", "sale"],
        "transform": "regular_price_on_sale",
    }
    data, _ = _map(product_rules, rule, regular="49.90", sale="39.90")
    assert data["compare_at_price"] == {"amount": "49.90", "currency": "EUR"}
    data, _ = _map(product_rules, rule, regular="49.90", sale="")
    assert "compare_at_price" not in data
    data, _ = _map(product_rules, rule, regular="", sale="39.90")
    assert "compare_at_price" not in data


def test_tags_with_html_entities(product_rules: RuleFactory) -> None:
    rule = {
        "target": "categories",
        "source": "cats",
        "transform": "tags",
        "args": {"unescape_html": True},
    }
    cats = [{"name": "Summer &amp; Beach"}, {"name": "Summer & Beach"}, {"name": "A&#39;s"}]
    data, _ = _map(product_rules, rule, cats=cats)
    assert data["categories"] == ["Summer & Beach", "A's"]


def test_end_of_day_for_dates_without_time(product_rules: RuleFactory) -> None:
    rule = {
        "target": "source_created_at",
        "source": "d",
        "transform": "date",
        "args": {"timezone": "Europe/Berlin", "date_only": "end_of_day"},
    }
    data, _ = _map(product_rules, rule, d="2026-10-25")  # 25 hours long: the clocks go back
    assert data["source_created_at"] == "2026-10-25T23:00:00Z"
    data, _ = _map(product_rules, rule, d="2026-10-25T12:00:00")
    assert data["source_created_at"] == "2026-10-25T11:00:00Z"
