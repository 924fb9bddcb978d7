"""Each rule kind on canonical records, conditions, masking of personal values, and the checks
a rule must pass before it is accepted."""

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from app.contracts.entities import Entity
from app.rules.engine import RuleDefinitionError, RuleSet, compile_rule, personal_paths
from app.rules.spec import RuleList, RuleSpec

RULE: TypeAdapter[Any] = TypeAdapter(RuleSpec)


def check(entity: Entity, rule: dict[str, Any], data: dict[str, Any], personal=()) -> list[Any]:
    compiled = compile_rule(RULE.validate_python(rule), entity, personal_paths(personal))
    return RuleSet(entity, 1, (compiled,)).violations(data)


def product(**fields: Any) -> dict[str, Any]:
    return {
        "external_id": "1",
        "source_platform": "shopify",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": "Linen Shirt",
        **fields,
    }


def test_required_reports_the_missing_field_and_treats_empty_as_missing():
    rule = {"id": "sku_required", "kind": "required", "field": "sku"}
    assert check(Entity.PRODUCT, rule, product(sku="LS-1")) == []
    for data in (product(), product(sku="  ")):
        [failure] = check(Entity.PRODUCT, rule, data)
        assert (failure.code, failure.dotted_path, failure.rule_id) == (
            "required",
            "sku",
            "sku_required",
        )


def test_required_on_every_element_names_the_element():
    rule = {"id": "variant_sku", "kind": "required", "field": "variants[*].sku"}
    data = product(variants=[{"external_id": "a", "sku": "A"}, {"external_id": "b"}])
    [failure] = check(Entity.PRODUCT, rule, data)
    assert failure.dotted_path == "variants[1].sku"


def test_a_when_condition_limits_the_rule():
    rule = {
        "id": "price_when_active",
        "kind": "required",
        "field": "price",
        "when": {"field": "status", "equals": "active"},
    }
    assert check(Entity.PRODUCT, rule, product(status="draft")) == []
    assert len(check(Entity.PRODUCT, rule, product(status="active"))) == 1
    listed = {**rule, "when": {"field": "status", "in": ["active", "draft"]}}
    assert len(check(Entity.PRODUCT, listed, product(status="draft"))) == 1
    present = {**rule, "when": {"field": "sku", "present": True}}
    assert check(Entity.PRODUCT, present, product()) == []
    assert len(check(Entity.PRODUCT, present, product(sku="A"))) == 1


def test_ranges_compare_money_as_decimals_not_floats():
    rule = {"id": "price_band", "kind": "range", "field": "price", "min": "0.10", "max": "999.99"}
    money = lambda amount: {"amount": amount, "currency": "EUR"}  # noqa: E731
    assert check(Entity.PRODUCT, rule, product(price=money("0.10"))) == []
    assert check(Entity.PRODUCT, rule, product(price=money("999.99"))) == []
    [low] = check(Entity.PRODUCT, rule, product(price=money("0.09")))
    assert (low.code, low.value, low.message) == (
        "out_of_range",
        "0.09",
        "'price' must be at least 0.10 and at most 999.99.",
    )
    assert len(check(Entity.PRODUCT, rule, product(price=money("1000")))) == 1
    assert check(Entity.PRODUCT, rule, product()) == []  # absent: required's business


def test_ranges_on_numbers_and_dates():
    stock = {"id": "stock", "kind": "range", "field": "inventory_quantity", "min": 0}
    assert len(check(Entity.PRODUCT, stock, product(inventory_quantity=-1))) == 1
    assert check(Entity.PRODUCT, stock, product(inventory_quantity=0)) == []
    year = {"id": "y", "kind": "range", "field": "source_updated_at", "max": "2100-01-01T00:00:00Z"}
    assert check(Entity.PRODUCT, year, product()) == []
    [late] = check(Entity.PRODUCT, year, product(source_updated_at="9999-12-31T00:00:00Z"))
    assert late.value == "9999-12-31T00:00:00Z"


def test_only_rfc_3339_text_is_on_a_date_scale():
    rule = {"id": "when", "kind": "range", "field": "attributes.when", "min": "2000-01-01T00:00Z"}
    when = lambda text: product(attributes={"when": text})  # noqa: E731
    assert check(Entity.PRODUCT, rule, when("2026-11-01T10:00:00+02:00")) == []
    # ISO 8601 forms other than YYYY-MM-DD (basic, week dates) and offset-less times fail
    for text in ("20261101T100000Z", "2026-W44-1T10:00:00Z", "2026-11-01T10:00:00", "2026-11"):
        assert len(check(Entity.PRODUCT, rule, when(text))) == 1, text


def test_number_ranges_take_any_decimal_text_but_not_nan_or_infinity():
    rule = {"id": "weight", "kind": "range", "field": "attributes.weight", "min": "0.5"}
    weight = lambda value: product(attributes={"weight": value})  # noqa: E731
    assert check(Entity.PRODUCT, rule, weight("0." + "0" * 60 + "1")) != []  # a long text too
    assert check(Entity.PRODUCT, rule, weight("1" + "0" * 60)) == []
    assert check(Entity.PRODUCT, rule, weight(0.75)) == []
    for value in ("NaN", "Infinity", "-inf", "1,5", True):
        assert len(check(Entity.PRODUCT, rule, weight(value))) == 1, value


def test_enumerations_and_patterns():
    vendors = {"id": "vendor", "kind": "enum", "field": "vendor", "values": ["Nordlinen"]}
    assert check(Entity.PRODUCT, vendors, product(vendor="Nordlinen")) == []
    [other] = check(Entity.PRODUCT, vendors, product(vendor="Acme"))
    assert (other.code, other.value) == ("invalid_enum", "Acme")
    sku = {"id": "sku_format", "kind": "regex", "field": "sku", "pattern": "^[A-Z0-9-]+$"}
    assert check(Entity.PRODUCT, sku, product(sku="LS-001")) == []
    [bad] = check(Entity.PRODUCT, sku, product(sku="ls 001"))
    assert (bad.code, bad.value, bad.rule_id) == ("invalid_format", "ls 001", "sku_format")


def test_long_values_are_cut_short_in_reports():
    rule = {"id": "short", "kind": "regex", "field": "description", "pattern": "^.{0,10}$"}
    [failure] = check(Entity.PRODUCT, rule, product(description="x" * 5000))
    assert len(failure.value) < 300


def test_cross_field_comparisons():
    rule = {
        "id": "compare_at",
        "kind": "compare",
        "field": "compare_at_price",
        "op": "gte",
        "other": "price",
    }
    eur = lambda amount: {"amount": amount, "currency": "EUR"}  # noqa: E731
    assert (
        check(Entity.PRODUCT, rule, product(price=eur("10"), compare_at_price=eur("10.00"))) == []
    )
    [failure] = check(Entity.PRODUCT, rule, product(price=eur("10"), compare_at_price=eur("9.99")))
    assert (failure.code, failure.dotted_path, failure.value) == (
        "comparison_failed",
        "compare_at_price",
        "9.99",
    )
    usd = {"amount": "1", "currency": "USD"}
    assert check(Entity.PRODUCT, rule, product(price=eur("10"), compare_at_price=usd)) == []
    assert check(Entity.PRODUCT, rule, product(price=eur("10"))) == []
    dates = {"id": "ends", "kind": "compare", "field": "end_at", "op": "gte", "other": "start_at"}
    campaign = {**product(), "start_at": "2026-12-01T00:00:00.500000Z"}
    assert len(check(Entity.CAMPAIGN, dates, {**campaign, "end_at": "2026-12-01T00:00:00Z"})) == 1
    assert check(Entity.CAMPAIGN, dates, {**campaign, "end_at": "2026-12-02T00:00:00Z"}) == []


def test_at_least_one_of_several_fields():
    rule = {"id": "reachable", "kind": "at_least_one", "fields": ["email", "phone"]}
    person = {"external_id": "1", "source_platform": "hubspot"}
    assert check(Entity.AUDIENCE, rule, {**person, "phone": "+14155550123"}) == []
    [failure] = check(Entity.AUDIENCE, rule, person)
    assert (failure.code, failure.dotted_path) == ("required_one_of", "email")


def test_personal_values_are_masked():
    personal = ("email", "phone", "first_name", "attributes")
    person = {
        "email": "ana.silva@example.com",
        "phone": "+442079460018",
        "first_name": "Ana",
        "attributes": {"nickname": "Nana"},
    }
    cases = {
        "email": "a***@e***.com",
        "phone": "+44********18",
        "first_name": "A***",
        "attributes.nickname": "N***",
    }
    for field, masked in cases.items():
        rule = {"id": "never", "kind": "regex", "field": field, "pattern": "^$"}
        [failure] = check(Entity.AUDIENCE, rule, person, personal)
        assert failure.value == masked
    unmasked = {"id": "city", "kind": "regex", "field": "city", "pattern": "^$"}
    [failure] = check(Entity.AUDIENCE, unmasked, {"city": "Lisbon"}, personal)
    assert failure.value == "Lisbon"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"id": "x", "kind": "required", "field": "colour"}, "no field 'colour'"),
        ({"id": "x", "kind": "range", "field": "price", "min": "cheap"}, "neither a number"),
        ({"id": "x", "kind": "range", "field": "price", "min": "5", "max": "1"}, "greater than"),
        (
            {
                "id": "x",
                "kind": "range",
                "field": "price",
                "min": "1",
                "max": "2100-01-01T00:00:00Z",
            },
            "both be numbers",
        ),
        (
            {
                "id": "x",
                "kind": "compare",
                "field": "variants[*].price",
                "op": "gte",
                "other": "price",
            },
            "[*] is not supported",
        ),
    ],
)
def test_rules_that_cannot_apply_to_the_entity_are_refused(rule, problem):
    with pytest.raises(RuleDefinitionError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        compile_rule(RULE.validate_python(rule), Entity.PRODUCT)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"id": "x", "kind": "regex", "field": "sku", "pattern": "(a+)+$"}, "nested quantifiers"),
        ({"id": "x", "kind": "regex", "field": "sku", "pattern": "(\\w*)*"}, "nested quantifiers"),
        ({"id": "x", "kind": "regex", "field": "sku", "pattern": "[a-"}, "not a valid regular"),
        ({"id": "x", "kind": "range", "field": "price"}, "needs min, max or both"),
        ({"id": "Bad Id", "kind": "required", "field": "sku"}, "pattern"),
        ({"id": "x", "kind": "shout", "field": "sku"}, "does not match any of the expected tags"),
        ({"id": "x", "kind": "required", "field": "sku", "colour": 1}, "Extra inputs"),
        (
            {"id": "x", "kind": "required", "field": "sku", "when": {"field": "status"}},
            "exactly one of equals, in, present",
        ),
    ],
)
def test_malformed_rules_are_refused(rule, problem):
    with pytest.raises(ValidationError, match=problem):
        RULE.validate_python(rule)


def test_rule_ids_are_unique_within_a_list():
    rule = {"id": "same", "kind": "required", "field": "sku"}
    with pytest.raises(ValidationError, match="used twice"):
        RuleList.model_validate({"rules": [rule, rule]})


def test_a_safe_pattern_is_accepted():
    rule = RULE.validate_python(
        {"id": "x", "kind": "regex", "field": "sku", "pattern": "^(?:[A-Z]{2}-)?[0-9]+$"}
    )
    assert rule.pattern.startswith("^")


def test_a_clients_rules_compile_once_per_version():
    from app.rules.service import compiled
    from app.tenancy.models import Tenant

    tenant = Tenant("cli_compile_once", False)
    rules = [{"id": "sku_format", "kind": "regex", "field": "sku", "pattern": "^[A-Z]+$"}]
    first = compiled(tenant, Entity.PRODUCT, 1, rules)
    assert compiled(tenant, Entity.PRODUCT, 1, rules) is first
    changed = [{**rules[0], "pattern": "^[a-z]+$"}]
    second = compiled(tenant, Entity.PRODUCT, 2, changed)
    assert second is not first
    assert len(second.violations(product(sku="ABC"))) == 1
    assert first.violations(product(sku="ABC")) == []
    other = compiled(Tenant("cli_compile_once", True), Entity.PRODUCT, 1, changed)
    assert other is not first  # live and test data are different tenants
