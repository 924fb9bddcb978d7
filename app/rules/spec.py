"""Validation rules as written: in a rule file under contracts/rules/ or through the API.

A rule names a field of the standard record and what must hold for it, e.g.
`{"id": "sku_format", "kind": "regex", "field": "sku", "pattern": "^[A-Z0-9-]+$"}`; an optional
`when` limits it to records where a condition holds (`{"field": "status", "equals": "active"}`).
"""

import re
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from app.transform.paths import PATTERN

RULE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_PATTERN_LENGTH = 300
# A quantified group that itself holds a quantifier, e.g. (a+)+ or (\w*)*: the shapes of
# catastrophic backtracking. Client patterns run on every record, so these are refused.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")

Scalar = str | int | float | bool
PathText = Annotated[
    str, Field(pattern=PATTERN, description="Dotted path into the standard record.")
]
Bound = Annotated[
    str | int | float,
    Field(
        description='A number, a decimal string (money amounts, e.g. "0.00") or an RFC 3339 '
        'date-time (e.g. "2100-01-01T00:00:00Z").'
    ),
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(_Spec):
    """When a rule applies: exactly one of equals, in, present."""

    field: PathText
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    present: StrictBool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        tests = [self.equals, self.in_, self.present]
        if sum(test is not None for test in tests) != 1:
            raise ValueError("a condition needs exactly one of equals, in, present")
        return self


class _Rule(_Spec):
    id: str = Field(pattern=RULE_ID, description="Stable id, reported with every failure.")
    message: str | None = Field(
        default=None, max_length=500, description="What a failure tells the partner."
    )
    when: Condition | None = Field(default=None, description="Apply only when this holds.")
    description: str | None = Field(default=None, max_length=1000)


class RequiredRule(_Rule):
    kind: Literal["required"]
    field: PathText


class RangeRule(_Rule):
    kind: Literal["range"]
    field: PathText
    min: Bound | None = None
    max: Bound | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        return self


class EnumRule(_Rule):
    kind: Literal["enum"]
    field: PathText
    values: list[Scalar] = Field(min_length=1, max_length=1000)


class RegexRule(_Rule):
    kind: Literal["regex"]
    field: PathText
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_LENGTH)

    @field_validator("pattern")
    @classmethod
    def _safe_pattern(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        if _NESTED_QUANTIFIER.search(pattern):
            raise ValueError(
                "nested quantifiers (like (a+)+) can take exponential time; rewrite the "
                "pattern without a repeated group that repeats inside"
            )
        return pattern


class CompareRule(_Rule):
    kind: Literal["compare"]
    field: PathText
    op: Literal["gte", "gt", "lte", "lt", "eq", "ne"]
    other: PathText = Field(description="The field compared against.")


class AtLeastOneRule(_Rule):
    kind: Literal["at_least_one"]
    fields: list[PathText] = Field(min_length=2, max_length=20)


RuleSpec = Annotated[
    RequiredRule | RangeRule | EnumRule | RegexRule | CompareRule | AtLeastOneRule,
    Field(discriminator="kind"),
]
RULE_KINDS = frozenset({"required", "range", "enum", "regex", "compare", "at_least_one"})
Location = tuple[str | int, ...]


def error_details(error: ValidationError) -> list[tuple[Location, str]]:
    """Each problem's path as the author wrote it (rules[2].pattern, without the kind tag the
    union adds) and its message."""
    details = []
    for detail in error.errors(include_url=False, include_input=False):
        loc = list(detail["loc"])
        tagged = [
            i
            for i, part in enumerate(loc)
            if part in RULE_KINDS and i and isinstance(loc[i - 1], int)
        ]
        for index in reversed(tagged):
            del loc[index]
        details.append((tuple(loc), detail["msg"].removeprefix("Value error, ")))
    return details


class RuleList(_Spec):
    """A list of rules, as a client sets them (ids unique)."""

    rules: list[RuleSpec] = Field(max_length=200)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


class RuleFileSpec(RuleList):
    """A built-in rule file: contracts/rules/<entity>.json."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(default=None, alias="$schema")
    description: str
    personal_fields: list[PathText] = Field(
        default_factory=list,
        description="Fields holding personal data: values reported in failures are masked.",
    )
