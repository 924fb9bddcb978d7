"""Mapping rule files: `contracts/mappings/<platform>.<entity>.json`, read and checked at start-up.

A file is `{"description": ..., "rules": [rule, ...]}`; a rule says where one standard field
comes from: `{"target": "price", "source": "variants[0].price", "transform": "money"}`.
A platform that sends one entity in several shapes (Shopify REST and GraphQL products) has a
file per shape: `<platform>.<entity>.<shape>.json` with a `when` test on each record; records
that match no shape's test are mapped by the plain `<platform>.<entity>.json`.
Every problem in every file is reported at once, naming the file, the rule index and what is wrong.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.contracts.entities import ENTITY_MODELS, Entity
from app.contracts.fields import RecordBase, SourcePlatform
from app.settings import ROOT_DIR
from app.transform.paths import PATTERN, FieldPath, get
from app.transform.transforms import Args, Transform

MAPPINGS_DIR = ROOT_DIR / "contracts" / "mappings"
SCHEMA_FILE_NAME = "mapping-rules.schema.json"
PathText = Annotated[str, Field(json_schema_extra={"pattern": PATTERN})]


class RuleSpec(BaseModel):
    """One rule as written in a file."""

    model_config = ConfigDict(extra="forbid")

    target: PathText = Field(
        description="The standard field to fill: a dotted path; `[*]` to fill every element "
        "of a list from the matching element of a `[*]` source.",
        examples=["price", "variants[*].sku", "attributes.handle"],
    )
    source: PathText | list[PathText] | None = Field(
        default=None,
        description="Dotted path in the native record (`[n]` index, `[*]` every element); a "
        "list means the first path that has a value (or every value, for `join`).",
        examples=["properties.email", ["id", "properties.hs_object_id"]],
    )
    transform: str = Field(default="copy", description="A named transform.")
    args: dict[str, JsonValue] = Field(default_factory=dict, description="The transform's args.")
    default: JsonValue = Field(
        default=None, description="Standard value used when the source is absent."
    )
    required: bool = Field(
        default=False, description="An absent source is an error (instead of leaving it unset)."
    )
    fallback: bool = Field(
        default=False,
        description="Runs only where the earlier rule for the same target left it unset: a "
        "second source read differently (e.g. a local date after a UTC one).",
    )
    note: str | None = Field(default=None, description="Why the rule is as it is.")


class ShapeSpec(BaseModel):
    """Which records a shape file maps."""

    model_config = ConfigDict(extra="forbid")

    source: PathText = Field(description="A path in the native record (no `[*]`).")
    matches: str = Field(
        description="A regular expression the value there (a string) must contain.",
        examples=["^gid://shopify/Product/"],
    )


class RuleFileSpec(BaseModel):
    """A mapping rule file as written."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(default=None, alias="$schema")
    description: str = Field(description="What the file maps, from which API shape.")
    when: ShapeSpec | None = Field(
        default=None,
        description="Only in a shape file (<platform>.<entity>.<shape>.json): the records it maps.",
    )
    rules: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Rule:
    """A rule ready to run: paths parsed, transform resolved, args validated."""

    index: int
    target: FieldPath
    sources: tuple[FieldPath, ...]
    transform: Transform
    args: Args
    default: JsonValue
    required: bool
    fallback: bool = False


@dataclass(frozen=True)
class Shape:
    """A shape file's test: the string at `source` contains a match of `pattern`."""

    name: str
    source: FieldPath
    pattern: re.Pattern[str]

    def matches(self, record: dict[str, Any]) -> bool:
        try:
            value = get(record, self.source.segments)
        except ValueError:  # a container of the wrong type on the way: not this shape
            return False
        return isinstance(value, str) and self.pattern.search(value) is not None


@dataclass(frozen=True)
class MappingRules:
    platform: SourcePlatform
    entity: Entity
    rules: tuple[Rule, ...]
    shape: Shape | None = None  # set on a shape file's rules
    shapes: tuple["MappingRules", ...] = ()  # on the plain file's: its shapes, tried first

    def for_record(self, record: dict[str, Any]) -> "MappingRules":
        """The rules of the first shape whose test the record passes, else these."""
        for candidate in self.shapes:
            assert candidate.shape is not None
            if candidate.shape.matches(record):
                return candidate
        return self

    @property
    def model(self) -> type[RecordBase]:
        return ENTITY_MODELS[self.entity]
