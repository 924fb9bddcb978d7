"""Transforms that choose the value: a lookup table, or a constant."""

from typing import Any

from pydantic import Field, JsonValue

from app.transform.context import Scope
from app.transform.errors import NormalisationError
from app.transform.transforms.base import Args, wrong_type


class LookupArgs(Args):
    map: dict[str, JsonValue] = Field(
        min_length=1, description="Source value (as text) → standard value."
    )
    default: JsonValue = Field(
        default=None, description="For values not in the map; without it they are errors."
    )
    ignore_case: bool = Field(default=True, description="Match keys case-insensitively.")


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value).strip()
    raise wrong_type(value, "a string, number or boolean")


_UNMAPPED = object()


def lookup(value: Any, args: LookupArgs, scope: Scope) -> Any:
    key = value.strip() if value.__class__ is str else _key(value)  # a string: the usual case
    mapped = args.map.get(key, _UNMAPPED)
    if mapped is not _UNMAPPED:
        return mapped
    if args.ignore_case:
        for candidate, mapped in args.map.items():
            if candidate.casefold() == key.casefold():
                return mapped
    if "default" in args.model_fields_set:
        return args.default
    known = ", ".join(sorted(args.map))
    raise NormalisationError("unmapped_value", f"{value!r} is not one of: {known}")


class ConstantArgs(Args):
    value: JsonValue = Field(description="The value every record gets.")


def constant(value: Any, args: ConstantArgs, scope: Scope) -> Any:
    return args.value
