"""Mapping rule files: `contracts/mappings/<platform>.<entity>.json`, read and checked at start-up.

A file is `{"description": ..., "rules": [rule, ...]}`; a rule says where one standard field
comes from: `{"target": "price", "source": "variants[0].price", "transform": "money"}`.
Every problem in every file is reported at once, naming the file, the rule index and what is wrong.
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.contracts.entities import ENTITY_MODELS, Entity
from app.contracts.fields import RecordBase, SourcePlatform
from app.settings import ROOT_DIR
from app.transform.paths import PATTERN, FieldPath
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
    note: str | None = Field(default=None, description="Why the rule is as it is.")


class RuleFileSpec(BaseModel):
    """A mapping rule file as written."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(default=None, alias="$schema")
    description: str = Field(description="What the file maps, from which API shape.")
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


@dataclass(frozen=True)
class MappingRules:
    platform: SourcePlatform
    entity: Entity
    rules: tuple[Rule, ...]

    @property
    def model(self) -> type[RecordBase]:
        return ENTITY_MODELS[self.entity]
