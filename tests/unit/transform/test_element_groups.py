"""Element rules over one array run element by element (app.transform.mapping._ElementGroup):
on every platform page, and on pages broken at any place, the records and errors (and their
order) are exactly those of running the rules one after the other."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import FieldError
from app.transform.context import Scope
from app.transform.mapping import _Compiled, _ElementGroup, compiled
from app.transform.rules import MappingRules
from tests.fixtures.platforms import DEFAULTS, PAGES, Page
from tests.unit.transform.conftest import ODD_VALUES, broken, mapped_by_steps, places


def _one_by_one(rules: MappingRules, record: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """The mapping with every rule run on its own, in file order."""
    data: dict[str, Any] = {"source_platform": rules.platform.value}
    errors: list[FieldError] = []
    scope = Scope(DEFAULTS, record)
    for rule in rules.for_record(record).rules:
        _Compiled(rule).run(scope, data, errors)
    return data, errors


def _same(rules: MappingRules, record: Any) -> None:
    by_rule, by_group = _one_by_one(rules, record), mapped_by_steps(rules, record, DEFAULTS)
    assert by_group[0] == by_rule[0]
    assert list(by_group[0].get("variants", [])) == list(by_rule[0].get("variants", []))
    assert [(e.code, e.path, e.message) for e in by_group[1]] == [
        (e.code, e.path, e.message) for e in by_rule[1]
    ]


def test_the_headline_rule_sets_have_element_groups() -> None:
    """Otherwise the tests below compare a thing with itself."""
    rest = next(page for page in PAGES if page.name == "shopify/products-graphql").mapper().rules
    steps = compiled(rest)  # the REST file's rules (the GraphQL shape is one of its shapes)
    assert any(isinstance(getattr(step, "__self__", None), _ElementGroup) for step in steps)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_grouped_rules_map_each_page_as_rule_by_rule(page: Page) -> None:
    rules = page.mapper().rules
    for record in page.records():
        _same(rules, record)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAGES), st.data(), ODD_VALUES)
def test_grouped_rules_map_broken_records_as_rule_by_rule(
    page: Page, data: st.DataObject, value: Any
) -> None:
    record = data.draw(st.sampled_from(page.records()))
    found = places(record)
    if not found:
        return
    path = data.draw(st.sampled_from(found))
    _same(page.mapper().rules, broken(record, path, value))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
@pytest.mark.parametrize("element", [7, "x", None, {}, [{}]])
def test_a_broken_array_element_gives_the_errors_of_rule_by_rule(page: Page, element: Any) -> None:
    """An element of the wrong type fails every rule reading it: one error each, rule order."""
    rules = page.mapper().rules
    for record in page.records():
        for path in places(record):
            if isinstance(path[-1], int):
                _same(rules, broken(record, path, element))
