"""Paths into JSON documents: `properties.email`, `variants[0].price`, `images[*].src`.

`[*]` stands for every element of an array; a path holds at most one. Parsed once when the
rules load, so mapping a record only walks tuples.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from app.errors import render_path
from app.transform.errors import NormalisationError

NAME = r"[A-Za-z0-9_$@-]+"
INDEX = r"\[(?:[0-9]+|\*)\]"
PATTERN = rf"^{NAME}(?:{INDEX})*(?:\.{NAME}(?:{INDEX})*)*$"
STAR = "*"
_PATH = re.compile(PATTERN)
_TOKEN = re.compile(rf"({NAME})|\[([0-9]+|\*)\]")

Segment = str | int


@dataclass(frozen=True)
class FieldPath:
    text: str
    segments: tuple[Segment, ...]

    @property
    def star(self) -> int | None:
        """Position of the `[*]` segment, or None."""
        return self.segments.index(STAR) if STAR in self.segments else None

    def at(self, index: int) -> "FieldPath":
        """This path with `[*]` replaced by a concrete index."""
        return _at(self, index)


@lru_cache(maxsize=16384)
def _at(path: FieldPath, index: int) -> FieldPath:
    segments = tuple(index if part == STAR else part for part in path.segments)
    return FieldPath(path.text.replace("[*]", f"[{index}]"), segments)


@lru_cache(maxsize=4096)
def parse_path(text: str) -> FieldPath:
    """Raise ValueError with a reason when `text` is not a path."""
    if not _PATH.match(text):
        raise ValueError(f"malformed path {text!r}: expected names, [n] and [*] joined by dots")
    segments: list[Segment] = []
    for name, index in _TOKEN.findall(text):
        segments.append(name or (STAR if index == STAR else int(index)))
    if segments.count(STAR) > 1:
        raise ValueError(f"path {text!r} has more than one [*]")
    return FieldPath(text, tuple(segments))


def _step(node: Any, part: Segment, walked: tuple[Segment, ...]) -> Any:
    if node is None:
        return None
    if isinstance(part, int):
        if not isinstance(node, list):
            raise _not_a(walked, "an array", node)
        return node[part] if part < len(node) else None
    if not isinstance(node, dict):
        raise _not_a(walked, "an object", node)
    return node.get(part)


def _not_a(walked: tuple[Segment, ...], kind: str, node: Any) -> NormalisationError:
    where = render_path(walked) or "the record"
    return NormalisationError(
        "invalid_type", f"{where} should be {kind}, not {type(node).__name__}"
    )


def get(document: Any, segments: tuple[Segment, ...]) -> Any:
    """The value at a star-free path, None where anything on the way is missing or null."""
    node = document
    for position, part in enumerate(segments):
        node = _step(node, part, segments[:position])
    return node


def count(document: Any, path: FieldPath) -> int:
    """How many elements the array at the path's `[*]` has (0 when missing)."""
    assert path.star is not None
    array = get(document, path.segments[: path.star])
    if array is None:
        return 0
    if not isinstance(array, list):
        raise NormalisationError(
            "invalid_type", f"expected an array at {path.text.split('[*]')[0]!r}"
        )
    return len(array)


def put(document: dict[str, Any], segments: tuple[Segment, ...], value: Any) -> None:
    """Set a value at a star-free path, creating objects and arrays on the way."""
    node: Any = document
    for part, following in pairwise(segments):
        empty: Any = [] if isinstance(following, int) else {}
        node = _child(node, part, empty)
    last = segments[-1]
    if isinstance(last, int):
        _grow(node, last)
    node[last] = value


def _child(node: Any, part: Segment, empty: Any) -> Any:
    if isinstance(part, int):
        _grow(node, part)
        if node[part] is None:
            node[part] = empty
        return node[part]
    return node.setdefault(part, empty)


def _grow(array: list[Any], index: int) -> None:
    array.extend([None] * (index + 1 - len(array)))
