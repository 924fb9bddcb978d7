"""Compiling rules into checks, and checking canonical records with them.

Each rule becomes a closure with its paths parsed and its bounds converted once; checking a
record only walks the parsed paths. Rules see the record as the contract produced it
(canonical JSON: dates in UTC RFC 3339, money as {amount, currency} with decimal strings).
"""

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from app.contracts.entities import ENTITY_MODELS, Entity
from app.errors import FieldError
from app.rules import spec
from app.rules.redaction import reported
from app.transform.paths import FieldPath, Segment, parse_path
from app.transform.targets import target_problem

Ordered = Decimal | datetime | str
_LONGEST_CACHED_DECIMAL = 40  # canonical amounts have at most 23 characters


@dataclass(frozen=True)
class RuleViolation(FieldError):
    """A record failing a rule: which rule, and the offending value (masked when personal)."""

    rule_id: str = ""
    value: Any = None


Check = Callable[[dict[str, Any]], list[RuleViolation]]
NO_VIOLATIONS: list[RuleViolation] = []


class RuleDefinitionError(ValueError):
    """A rule that cannot be compiled for its entity (unknown field, unusable bound)."""


@dataclass(frozen=True)
class RuleSet:
    """The rules one client's records of one entity are checked with."""

    entity: Entity
    version: int
    checks: tuple[Check, ...]

    def violations(self, data: dict[str, Any]) -> list[RuleViolation]:
        found: list[RuleViolation] = []
        for check in self.checks:
            failed = check(data)
            if failed:
                found.extend(failed)
        return found


def _walk(node: Any, segments: tuple[Segment, ...]) -> Any:
    """The value at a star-free path; None where anything on the way is missing or of
    another shape (a rule never fails on where a value is not)."""
    for part in segments:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _value(data: dict[str, Any], path: FieldPath) -> Any:
    return _walk(data, path.segments)


def present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value != "" and not value.isspace()
    if isinstance(value, (list, dict)):  # a tuple: a `list | dict` union is built per call
        return len(value) > 0
    return True


def _amount(value: Any) -> Any:
    """Money is compared by its amount."""
    if isinstance(value, dict) and "amount" in value:
        return value["amount"]
    return value


@lru_cache(maxsize=4096)
def _parsed_decimal(text: str) -> Decimal | None:
    """Amounts repeat (a product's price in its variants and in the price comparison rule),
    so each is parsed once."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, dict):
        value = _amount(value)
    if not isinstance(value, str):  # decimal strings are the usual case
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        value = str(value)
    if len(value) > _LONGEST_CACHED_DECIMAL:  # long text is not kept alive in the cache
        return _parsed_decimal.__wrapped__(value)
    return _parsed_decimal(value)


def _as_datetime(value: Any) -> datetime | None:
    """Only text starting YYYY-MM-DD: fromisoformat alone would take ISO basic and week dates.
    Testing the two hyphens is enough, as fromisoformat takes ASCII digits only around them."""
    if not isinstance(value, str) or value[4:5] != "-" or value[7:8] != "-":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _ordered(value: Any) -> Ordered | None:
    """A value put on a scale: date-time, number or (last resort) text."""
    value = _amount(value)
    moment = _as_datetime(value)
    if moment is not None:
        return moment
    number = _as_decimal(value)
    if number is not None:
        return number
    return value if isinstance(value, str) else None


def _bound(value: spec.Bound | None, name: str) -> Ordered | None:
    if value is None:
        return None
    ordered = _ordered(value)
    if not isinstance(ordered, (Decimal, datetime)):
        raise RuleDefinitionError(f"{name} {value!r} is neither a number nor an RFC 3339 date-time")
    return ordered


def _path(text: str, entity: Entity) -> FieldPath:
    path = parse_path(text)
    if path.segments[0] == "source_platform" and len(path.segments) == 1:
        return path
    problem = target_problem(ENTITY_MODELS[entity], path)
    if problem:
        raise RuleDefinitionError(problem.replace("target", "field", 1))
    return path


def _star_free(path: FieldPath, what: str) -> FieldPath:
    if path.star is not None:
        raise RuleDefinitionError(f"{what} {path.text!r}: [*] is not supported here")
    return path


Applies = Callable[[dict[str, Any]], bool]


def _condition(condition: spec.Condition | None, entity: Entity) -> Applies | None:
    if condition is None:
        return None
    path = _star_free(_path(condition.field, entity), "when.field")
    if condition.present is not None:
        wanted = condition.present
        return lambda data: present(_value(data, path)) is wanted
    if condition.in_ is not None:
        options = condition.in_
        return lambda data: _value(data, path) in options
    expected = condition.equals
    return lambda data: _value(data, path) == expected


def _personal(path: FieldPath, personal: Sequence[FieldPath]) -> bool:
    return any(path.segments[: len(p.segments)] == p.segments for p in personal)


@dataclass(frozen=True)
class _Context:
    rule: Any
    code: str
    message: str
    personal: bool

    def violation(self, segments: tuple[Segment, ...], value: Any) -> RuleViolation:
        return RuleViolation(
            self.code,
            self.rule.message or self.message,
            segments,
            rule_id=self.rule.id,
            value=reported(_amount(value), self.personal),
        )


def _per_value(
    path: FieldPath, context: _Context, failed: Callable[[Any], bool], skip_absent: bool = True
) -> Check:
    star = path.star
    if star is None:
        segments = path.segments
        key = segments[0] if len(segments) == 1 and isinstance(segments[0], str) else None

        def check_one(data: dict[str, Any]) -> list[RuleViolation]:
            value = data.get(key) if key is not None else _walk(data, segments)
            if skip_absent and (value is None or not present(value)):
                return NO_VIOLATIONS
            if not failed(value):
                return NO_VIOLATIONS
            return [context.violation(segments, value)]

        return check_one

    prefix, suffix = path.segments[:star], path.segments[star + 1 :]
    field = suffix[0] if len(suffix) == 1 and isinstance(suffix[0], str) else None

    def check(data: dict[str, Any]) -> list[RuleViolation]:
        array = _walk(data, prefix)
        if not isinstance(array, list):
            return NO_VIOLATIONS
        found = NO_VIOLATIONS
        for index, element in enumerate(array):
            if field is not None and isinstance(element, dict):
                value = element.get(field)
            else:
                value = _walk(element, suffix)
            if skip_absent and (value is None or not present(value)):
                continue
            if not failed(value):
                continue
            if found is NO_VIOLATIONS:
                found = []
            found.append(context.violation((*prefix, index, *suffix), value))
        return found

    return check


def _required(rule: spec.RequiredRule, path: FieldPath, personal: bool) -> Check:
    context = _Context(rule, "required", f"'{path.text}' is required.", personal)
    if path.star is None:
        segments = path.segments
        return lambda data: (
            NO_VIOLATIONS if present(_value(data, path)) else [context.violation(segments, None)]
        )
    return _per_value(path, context, lambda value: not present(value), skip_absent=False)


def _out_of_range(low: Ordered | None, high: Ordered | None) -> Callable[[Any], bool]:
    scale: Callable[[Any], Any] = _as_datetime if isinstance(low or high, datetime) else _as_decimal
    if low is None and high is None:  # refused by the spec; only an unusable value fails
        return lambda value: scale(value) is None
    if high is None:  # the usual one-sided bounds, without testing the missing side

        def below(value: Any) -> bool:
            ordered = scale(value)
            return ordered is None or ordered < low

        return below
    if low is None:

        def above(value: Any) -> bool:
            ordered = scale(value)
            return ordered is None or ordered > high

        return above

    def outside(value: Any) -> bool:
        ordered = scale(value)
        return ordered is None or ordered < low or ordered > high

    return outside


def _range(rule: spec.RangeRule, path: FieldPath, personal: bool) -> Check:
    low, high = _bound(rule.min, "min"), _bound(rule.max, "max")
    if low is not None and high is not None and type(low) is not type(high):
        raise RuleDefinitionError("min and max must both be numbers or both date-times")
    if low is not None and high is not None and low > high:  # type: ignore[operator]
        raise RuleDefinitionError("min is greater than max")
    limits = [f"at least {rule.min}"] if low is not None else []
    limits += [f"at most {rule.max}"] if high is not None else []
    message = f"'{path.text}' must be {' and '.join(limits)}."
    context = _Context(rule, "out_of_range", message, personal)
    failed = _out_of_range(low, high)
    return _per_value(path, context, failed)


def _enum(rule: spec.EnumRule, path: FieldPath, personal: bool) -> Check:
    allowed = frozenset(rule.values)
    listed = ", ".join(str(value) for value in rule.values)
    context = _Context(rule, "invalid_enum", f"'{path.text}' must be one of: {listed}.", personal)
    return _per_value(
        path, context, lambda value: isinstance(value, (dict, list)) or value not in allowed
    )


def _regex(rule: spec.RegexRule, path: FieldPath, personal: bool) -> Check:
    pattern = re.compile(rule.pattern)
    message = f"'{path.text}' must match {rule.pattern}."
    context = _Context(rule, "invalid_format", message, personal)
    return _per_value(
        path, context, lambda value: not isinstance(value, str) or pattern.search(value) is None
    )


_OPERATORS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "gte": ("at least", operator.ge),
    "gt": ("greater than", operator.gt),
    "lte": ("at most", operator.le),
    "lt": ("less than", operator.lt),
    "eq": ("equal to", operator.eq),
    "ne": ("different from", operator.ne),
}


def _comparable(left: Any, right: Any) -> tuple[Ordered, Ordered] | None:
    """Both sides on one scale, or None (then the rule does not apply): money in different
    currencies, or values of different kinds, are not compared."""
    both_money = isinstance(left, dict) and isinstance(right, dict)
    if both_money and left.get("currency") != right.get("currency"):
        return None
    a, b = _ordered(left), _ordered(right)
    if a is None or b is None or type(a) is not type(b):
        return None
    return a, b


def _compare(rule: spec.CompareRule, path: FieldPath, personal: bool, entity: Entity) -> Check:
    _star_free(path, "field")
    other = _star_free(_path(rule.other, entity), "other")
    words, holds = _OPERATORS[rule.op]
    message = f"'{path.text}' must be {words} '{other.text}'."
    context = _Context(rule, "comparison_failed", message, personal)

    def check(data: dict[str, Any]) -> list[RuleViolation]:
        value = _value(data, path)
        sides = _comparable(value, _value(data, other))
        if sides is None or holds(*sides):
            return NO_VIOLATIONS
        return [context.violation(path.segments, value)]

    return check


def _at_least_one(rule: spec.AtLeastOneRule, entity: Entity) -> Check:
    paths = [_star_free(_path(text, entity), "fields") for text in rule.fields]
    message = f"Give at least one of: {', '.join(path.text for path in paths)}."
    context = _Context(rule, "required_one_of", message, False)
    first = paths[0].segments

    def check(data: dict[str, Any]) -> list[RuleViolation]:
        if any(present(_value(data, path)) for path in paths):
            return NO_VIOLATIONS
        return [context.violation(first, None)]

    return check


def _unconditional(rule: Any, entity: Entity, personal: Sequence[FieldPath]) -> Check:
    if isinstance(rule, spec.AtLeastOneRule):
        return _at_least_one(rule, entity)
    path = _path(rule.field, entity)
    masked = _personal(path, personal)
    if isinstance(rule, spec.RequiredRule):
        return _required(rule, path, masked)
    if isinstance(rule, spec.RangeRule):
        return _range(rule, path, masked)
    if isinstance(rule, spec.EnumRule):
        return _enum(rule, path, masked)
    if isinstance(rule, spec.RegexRule):
        return _regex(rule, path, masked)
    return _compare(rule, path, masked, entity)


def compile_rule(rule: Any, entity: Entity, personal: Sequence[FieldPath] = ()) -> Check:
    """One rule as a check; RuleDefinitionError when it cannot apply to the entity."""
    try:
        check = _unconditional(rule, entity, personal)
        applies = _condition(rule.when, entity)
    except ValueError as error:  # malformed paths from parse_path, too
        raise RuleDefinitionError(str(error)) from None
    if applies is None:
        return check
    return lambda data: check(data) if applies(data) else NO_VIOLATIONS


def personal_paths(texts: Iterable[str]) -> tuple[FieldPath, ...]:
    return tuple(parse_path(text) for text in texts)
