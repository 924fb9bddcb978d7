"""The rule engine's behaviour, rule by rule, on small native records."""

from dataclasses import replace
from typing import Any

from app.contracts.entities import Product
from app.transform.context import ClientDefaults
from app.transform.mapping import RecordMapper
from app.transform.transforms import Transform
from tests.unit.transform.conftest import RuleFactory

BASE = {"id": 7, "updated": "2026-11-01T10:00:00Z", "title": "Tote"}


def _map(
    rules: RuleFactory, *specs: dict[str, Any], **record: Any
) -> tuple[dict[str, Any], list[Any]]:
    mapper = RecordMapper(rules(*specs), ClientDefaults(currency="EUR"))
    return mapper.map(BASE | record)


def test_the_essentials_and_the_platform_from_the_file_name(product_rules: RuleFactory) -> None:
    data, errors = _map(product_rules)
    assert errors == []
    assert data == {
        "source_platform": "custom",
        "external_id": "7",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": "Tote",
    }
    Product.model_validate(data)


def test_a_list_of_sources_takes_the_first_present(product_rules: RuleFactory) -> None:
    rule = {"target": "vendor", "source": ["brand", "maker.name", "vendor"], "transform": "text"}
    data, _ = _map(product_rules, rule, brand="  ", maker={"name": None}, vendor="Nord")
    assert data["vendor"] == "Nord"


def test_absent_sources_leave_the_target_unset_or_take_the_default(
    product_rules: RuleFactory,
) -> None:
    rules = (
        {"target": "vendor", "source": "vendor", "transform": "text"},
        {"target": "status", "source": "state", "transform": "text", "default": "draft"},
    )
    data, errors = _map(product_rules, *rules, vendor=None)
    assert errors == []
    assert "vendor" not in data
    assert data["status"] == "draft"


def test_a_required_absent_source_is_a_missing_source_error(product_rules: RuleFactory) -> None:
    rule = {"target": "sku", "source": "code", "transform": "text", "required": True}
    _, errors = _map(product_rules, rule, code="")
    assert [(e.code, e.dotted_path, e.source) for e in errors] == [
        ("missing_source", "sku", "code")
    ]


def test_a_star_source_into_a_plain_target_gives_the_transform_a_list(
    product_rules: RuleFactory,
) -> None:
    rule = {"target": "categories", "source": "categories[*].name", "transform": "tags"}
    categories = [{"id": 1, "name": "Bags"}, {"id": 2, "name": None}, {"id": 3, "name": "bags"}]
    data, _ = _map(product_rules, rule, categories=categories)
    assert data["categories"] == ["Bags"]


def test_star_to_star_maps_element_by_element(product_rules: RuleFactory) -> None:
    rules = (
        {"target": "images[*].url", "source": "pictures[*].href", "transform": "text"},
        {"target": "images[*].position", "source": "pictures[*].rank", "transform": "integer"},
    )
    pictures = [
        {"href": "https://x.example/1.jpg", "rank": "0"},
        {"href": "https://x.example/2.jpg"},
    ]
    data, _ = _map(product_rules, *rules, pictures=pictures)
    assert data["images"] == [
        {"url": "https://x.example/1.jpg", "position": 0},
        {"url": "https://x.example/2.jpg"},
    ]


def test_join_takes_every_source(product_rules: RuleFactory) -> None:
    rule = {
        "target": "description",
        "source": ["short", "sizes[*]", "long"],
        "transform": "join",
        "args": {"separator": " | "},
    }
    data, _ = _map(product_rules, rule, short="Canvas tote", sizes=["S", "L"], long=None)
    assert data["description"] == "Canvas tote | S | L"


def test_lookup_with_and_without_a_default(product_rules: RuleFactory) -> None:
    strict = {
        "target": "status",
        "source": "state",
        "transform": "lookup",
        "args": {"map": {"publish": "active", "draft": "draft", "private": "archived"}},
    }
    data, _ = _map(product_rules, strict, state="PUBLISH")
    assert data["status"] == "active"
    _, errors = _map(product_rules, strict, state="pending")
    assert [e.code for e in errors] == ["unmapped_value"]
    assert "draft, private, publish" in errors[0].message
    lenient = strict | {"args": {"map": {"true": "active"}, "default": "draft"}}
    data, _ = _map(product_rules, lenient, state=False)
    assert data["status"] == "draft"
    data, _ = _map(product_rules, lenient, state=True)
    assert data["status"] == "active"


def test_constant_and_attributes(product_rules: RuleFactory) -> None:
    rules = (
        {"target": "attributes.channel", "transform": "constant", "args": {"value": "online"}},
        {"target": "attributes.weight_grams", "source": "grams", "transform": "integer"},
    )
    data, _ = _map(product_rules, *rules, grams=220)
    assert data["attributes"] == {"channel": "online", "weight_grams": 220}


def test_money_with_a_currency_from_the_record(product_rules: RuleFactory) -> None:
    rule = {
        "target": "price",
        "source": "PricebookEntries.records[0].UnitPrice",
        "transform": "money",
        "args": {"currency_source": "PricebookEntries.records[0].CurrencyIsoCode"},
    }
    entries = {
        "totalSize": 1,
        "done": True,
        "records": [{"UnitPrice": 1500, "CurrencyIsoCode": "JPY"}],
    }
    data, _ = _map(product_rules, rule, PricebookEntries=entries)
    assert data["price"] == {"amount": "1500", "currency": "JPY"}


def test_epoch_ms_money_amount_and_first_variant_sku(product_rules: RuleFactory) -> None:
    rules = (
        {"target": "source_created_at", "source": "created", "transform": "epoch_ms"},
        {"target": "price.amount", "source": "price", "transform": "money_amount"},
        {"target": "price.currency", "source": "currency", "transform": "currency"},
        {"target": "sku", "source": "variants", "transform": "first_variant_sku"},
    )
    variants = [{"sku": ""}, {"sku": None}, {"sku": " TOTE-2 "}]
    data, errors = _map(
        product_rules, *rules, created="1572480000000", price=19.9, variants=variants
    )
    assert errors == []
    assert data["source_created_at"] == "2019-10-31T00:00:00Z"
    assert data["price"] == {"amount": "19.90", "currency": "EUR"}
    assert data["sku"] == "TOTE-2"


def _explode(value: Any, args: Any, scope: Any) -> Any:
    raise KeyError("boom")


def test_a_transform_that_breaks_unexpectedly_is_contained(product_rules: RuleFactory) -> None:
    rules = product_rules({"target": "vendor", "source": "title", "transform": "text"})
    broken = replace(rules.rules[-1], transform=Transform("text", _explode, "breaks"))
    mapper = RecordMapper(replace(rules, rules=(*rules.rules[:-1], broken)))
    data, errors = mapper.map(BASE)
    assert [(e.code, e.dotted_path) for e in errors] == [("transform_failed", "vendor")]
    assert data["name"] == "Tote"


def test_a_currency_rule_without_source_takes_the_clients_currency(
    product_rules: RuleFactory,
) -> None:
    rules = (
        {"target": "price.amount", "source": "price", "transform": "decimal_string"},
        {"target": "price.currency", "transform": "currency"},
    )
    data, errors = _map(product_rules, *rules, price="12.5")
    assert errors == []
    assert data["price"] == {"amount": "12.5", "currency": "EUR"}
