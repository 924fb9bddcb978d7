"""The cheaper ways of the hot path give exactly what the plain ways gave.

Dates are rendered by %-formatting instead of isoformat; range rules test only the bounds they
have, on variants without walking paths; `present` tests types instead of comparing with [] and
{}; the content hash copies the record instead of rebuilding it. Each is compared here with the
plain definition it replaced, on generated values.
"""

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.contracts.entities import Entity
from app.records.validation import content_hash
from app.rules.engine import RuleSet, compile_rule, present
from app.rules.spec import RuleSpec
from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.errors import NormalisationError
from app.transform.normalise import format_rfc3339, parse_datetime
from app.transform.transforms import Args, values

RULE: TypeAdapter[Any] = TypeAdapter(RuleSpec)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
moments = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=offsets
)


def _isoformat_rfc3339(moment: datetime) -> str:
    """The plain definition: isoformat in UTC, only the precision the value has, Z."""
    moment = moment.astimezone(UTC)
    if moment.microsecond == 0:
        spec = "seconds"
    elif moment.microsecond % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    return moment.isoformat(timespec=spec)[:-6] + "Z"


@settings(max_examples=500)
@given(moments)
@example(datetime(1900, 1, 2, 0, 0, 0, 1000, tzinfo=UTC))
@example(datetime(2026, 11, 1, 10, 0, 0, 120000, tzinfo=UTC))
@example(datetime(2026, 11, 1, 10, 0, 0, 1, tzinfo=UTC))
def test_rfc3339_rendering_matches_isoformat(moment: datetime) -> None:
    assert format_rfc3339(moment) == _isoformat_rfc3339(moment)


@pytest.mark.parametrize("value", ["", "   ", True, None, [], {"a": 1}])
def test_values_that_are_no_dates_are_still_refused(value: object) -> None:
    with pytest.raises(NormalisationError) as refused:
        parse_datetime(value)
    assert refused.value.code == "invalid_date"


def test_every_accepted_shape_still_parses() -> None:
    expected = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    for value in (
        " 2026-11-01T10:00:00Z ",
        1793527200,
        1793527200000,
        Decimal("1793527200"),
        1793527200.0,
        expected,
        expected.replace(tzinfo=None),
    ):
        assert parse_datetime(value) == expected, value


def _plain_present(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != [] and value != {}


scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=4,
)


@settings(max_examples=500)
@given(json_values)
@example(" \u2003\n")
@example(0)
@example(False)
def test_present_is_unchanged(value: Any) -> None:
    assert present(value) is _plain_present(value)


def _violations(rule: dict[str, Any], data: dict[str, Any]) -> list[Any]:
    check = compile_rule(RULE.validate_python(rule), Entity.PRODUCT)
    return RuleSet(Entity.PRODUCT, 1, (check,)).violations(data)


amounts = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)
bounds = st.none() | st.decimals(min_value=-500, max_value=500, places=1, allow_nan=False)


@settings(max_examples=300)
@given(st.lists(amounts, max_size=4), bounds, bounds)
def test_one_and_two_sided_ranges_on_every_variant(
    prices: list[Decimal], low: Decimal | None, high: Decimal | None
) -> None:
    if (low is None and high is None) or (low is not None and high is not None and low > high):
        return
    rule: dict[str, Any] = {"id": "band", "kind": "range", "field": "variants[*].price"}
    rule |= {"min": str(low)} if low is not None else {}
    rule |= {"max": str(high)} if high is not None else {}
    variants = [
        {"external_id": str(n), "price": {"amount": str(price), "currency": "EUR"}}
        for n, price in enumerate(prices)
    ]
    outside = [
        f"variants[{n}].price"
        for n, price in enumerate(prices)
        if (low is not None and price < low) or (high is not None and price > high)
    ]
    found = _violations(rule, {"external_id": "1", "variants": variants})
    assert [violation.dotted_path for violation in found] == outside


def test_a_range_on_a_variant_that_is_no_object_is_skipped() -> None:
    rule = {"id": "band", "kind": "range", "field": "variants[*].price", "min": "0"}
    assert _violations(rule, {"variants": ["odd", None, {"price": {"amount": "-1"}}]}) != []
    assert _violations(rule, {"variants": ["odd", None]}) == []


def test_the_content_hash_covers_everything_but_the_update_time() -> None:
    data = {"external_id": "1", "source_updated_at": "2026-11-01T10:00:00Z", "name": "Linen"}
    later = {**data, "source_updated_at": "2026-11-02T10:00:00Z"}
    reordered = {"name": "Linen", "external_id": "1"}
    expected = hashlib.sha256(orjson.dumps(reordered, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert content_hash(data) == content_hash(later) == content_hash(reordered) == expected
    assert content_hash({**data, "name": "Wool"}) != expected
    assert data["source_updated_at"] == "2026-11-01T10:00:00Z"  # the record is left as it was


TEXT_VALUES = (
    st.text()
    | st.text(alphabet=st.characters(max_codepoint=127))
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.booleans()
    | st.none()
    | st.floats()
)


def _outcome(function: Any, value: object) -> object:
    try:
        return function(value)
    except NormalisationError as error:
        return error.code


@settings(max_examples=300)
@given(TEXT_VALUES)
@example(" a \t b ")
@example(-0)
def test_the_text_and_id_transforms_give_what_their_normalisers_give(value: object) -> None:
    """`text` and `id` skip clean_text's call for plain ASCII text and integer ids."""
    scope = Scope()
    assert _outcome(lambda v: values.text(v, Args(), scope), value) == _outcome(
        norm.clean_text, value
    )
    plain_id = (
        _outcome(norm.clean_text, str(value))
        if isinstance(value, int | str) and not isinstance(value, bool)
        else "invalid_type"
    )
    assert _outcome(lambda v: values.identifier(v, Args(), scope), value) == plain_id
