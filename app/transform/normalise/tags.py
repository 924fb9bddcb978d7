"""Tags from a comma-separated string, a list of strings, or a list of {name} / {label} objects:
trimmed, empties dropped, de-duplicated case-insensitively keeping the first spelling."""

from collections.abc import Iterable

from app.transform.errors import NormalisationError
from app.transform.normalise.text import clean_text

_LABEL_KEYS = ("name", "label")


def _label(item: object) -> object:
    if isinstance(item, dict):
        return next((item[key] for key in _LABEL_KEYS if item.get(key) is not None), "")
    return item


def _pieces(value: object, split: bool) -> Iterable[object]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split(",") if split else [value]
    if isinstance(value, list):
        return [_label(item) for item in value]
    raise NormalisationError(
        "invalid_type",
        f"Tags must be a comma-separated string or a list, not {type(value).__name__}.",
    )


def _cleaned(value: object, split: bool) -> list[str]:
    if value.__class__ is str and value.isascii() and value.isprintable():
        # clean_text's own fast path, piece by piece (each piece is ASCII and printable too)
        return [" ".join(piece.split()) for piece in (value.split(",") if split else [value])]
    return [clean_text(piece) for piece in _pieces(value, split)]


def normalise_tags(value: object, *, split: bool = True) -> list[str]:
    kept: dict[str, str] = {}
    for tag in _cleaned(value, split):
        if tag and (folded := tag.casefold()) not in kept:
            kept[folded] = tag
    return list(kept.values())
