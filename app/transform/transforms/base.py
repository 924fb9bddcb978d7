"""What a named transform is: a function of (value, args, scope) plus its args model."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.transform.context import Scope
from app.transform.errors import NormalisationError


class Args(BaseModel):
    """A transform's `args` object; unknown keys are errors when the rules load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Transform:
    """A transform gets the source value (absent values reach it only if it `fills_absent`),
    its validated args and the scope; it returns a JSON-ready value (None leaves the target
    unset) or raises NormalisationError."""

    name: str
    apply: Callable[[Any, Any, Scope], Any]
    description: str
    args: type[Args] = Args
    takes_all: bool = False  # gets every source's value as a list, not the first present one
    needs_source: bool = True
    fills_absent: bool = False  # also runs (with None) when the source is absent
    empty_is_value: bool = False  # an empty list/object/string is a value, not an absent source


def wrong_type(value: object, expected: str) -> NormalisationError:
    return NormalisationError("invalid_type", f"expected {expected}, got {type(value).__name__}")
