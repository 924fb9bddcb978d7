"""Transforms that build or pick from lists: tags, split_commas, join, first_variant_sku,
variant_options."""

from functools import cached_property
from html import unescape
from typing import Any

from pydantic import Field, field_validator

from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.paths import STAR, Getter, getter, parse_path
from app.transform.transforms.base import Args, wrong_type


class TagsArgs(Args):
    split: bool = Field(default=True, description="Split strings on commas.")
    unescape_html: bool = Field(
        default=False, description="Decode HTML entities (WooCommerce sends 'A &amp; B')."
    )


def tags(value: Any, args: TagsArgs, scope: Scope) -> list[str]:
    found = norm.normalise_tags(value, split=args.split)
    if args.unescape_html:
        found = norm.normalise_tags([unescape(tag) for tag in found], split=False)
    return found


def split_commas(value: Any, args: Args, scope: Scope) -> list[str]:
    if not isinstance(value, str):
        raise wrong_type(value, "a comma-separated string")
    return norm.normalise_tags(value)


class JoinArgs(Args):
    separator: str = Field(default=" ", description="Put between the non-empty parts.")


def join(values: Any, args: JoinArgs, scope: Scope) -> str | None:
    parts = [norm.clean_text(part) for part in _flat(values)]
    return args.separator.join(part for part in parts if part) or None


def _flat(values: Any) -> list[Any]:
    items = values if isinstance(values, list) else [values]
    flat: list[Any] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return [item for item in flat if item is not None]


def first_variant_sku(variants: Any, args: Args, scope: Scope) -> str | None:
    """The SKU of the first variant that has one."""
    if not isinstance(variants, list):
        raise wrong_type(variants, "a list of variants")
    for variant in variants:
        sku = variant.get("sku") if isinstance(variant, dict) else None
        if isinstance(sku, str) and (cleaned := norm.clean_text(sku)):
            return cleaned
    return None


class VariantOptionsArgs(Args):
    names: str = Field(
        description="Path in the record to the option names, in order.",
        examples=["options[*].name"],
    )
    keys: list[str] = Field(
        default=["option1", "option2", "option3"], description="The variant's value keys, in order."
    )
    skip_values: list[str] = Field(
        default=[], description="Values that mean 'no option', e.g. Shopify's 'Default Title'."
    )

    @field_validator("names")
    @classmethod
    def _path(cls, path: str) -> str:
        if parse_path(path).star is None:
            raise ValueError(f"names path {path!r} must contain [*]")
        return path

    @cached_property
    def memo_key(self) -> tuple[str, ...]:
        """Where a record's named keys are kept in its scope's memo."""
        return ("variant_options", self.names, *self.keys)

    @cached_property
    def names_getters(self) -> tuple[Getter, Getter]:
        """Reads the array of option names, and each name in it."""
        parsed = parse_path(self.names)
        star = parsed.segments.index(STAR)
        return getter(parsed.segments[:star]), getter(parsed.segments[star + 1 :])


def _named_keys(record: Any, args: VariantOptionsArgs) -> list[tuple[str, str]]:
    """(option name, the variant's value key) for each named option of the product."""
    array_at, name_at = args.names_getters
    array = array_at(record)
    names = [name_at(item) for item in array] if isinstance(array, list) else []  # all read
    return [
        (norm.clean_text(name), key)
        for name, key in zip(names, args.keys, strict=False)
        if isinstance(name, str)
    ]


def variant_options(variant: Any, args: VariantOptionsArgs, scope: Scope) -> dict[str, str]:
    """{option name: value} from a variant's option1..3 and the product's option names."""
    if not isinstance(variant, dict):
        raise wrong_type(variant, "a variant object")
    named_keys = scope.memo.get(args.memo_key)
    if named_keys is None:
        named_keys = scope.memo[args.memo_key] = _named_keys(scope.record, args)
    skip_values = args.skip_values
    options = {}
    for name, key in named_keys:
        value = variant.get(key)
        if value.__class__ is str and value.isascii() and value.isprintable():
            if value not in skip_values:  # clean_text's fast path, without its call
                options[name] = " ".join(value.split())
        elif isinstance(value, str) and value not in skip_values:
            options[name] = norm.clean_text(value)
    return options
