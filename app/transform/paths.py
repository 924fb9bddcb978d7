"""Paths into JSON documents: `properties.email`, `variants[0].price`, `images[*].src`.

`[*]` stands for every element of an array; a path holds at most one. Parsed once when the
rules load, so mapping a record only walks tuples.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
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
    for part in segments:
        if node is None:
            return None
        if isinstance(part, str) and isinstance(node, dict):
            node = node.get(part)
        elif isinstance(part, int) and isinstance(node, list):
            node = node[part] if part < len(node) else None
        else:
            return _checked_get(document, segments)  # a wrong type on the way: say where
    return node


def _checked_get(document: Any, segments: tuple[Segment, ...]) -> Any:
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
    last = len(segments) - 1
    for position, part in enumerate(segments):
        if position == last:
            break
        following = segments[position + 1]
        node = _child(node, part, [] if isinstance(following, int) else {})
    part = segments[last]
    if isinstance(part, int):
        _grow(node, part)
    node[part] = value


def _child(node: Any, part: Segment, empty: Any) -> Any:
    if isinstance(part, int):
        _grow(node, part)
        if node[part] is None:
            node[part] = empty
        return node[part]
    return node.setdefault(part, empty)


def _grow(array: list[Any], index: int) -> None:
    if index >= len(array):
        array.extend([None] * (index + 1 - len(array)))


Getter = Callable[[Any], Any]


def getter(segments: tuple[Segment, ...]) -> Getter:
    """`get` for one path, specialised for the common one- and two-name paths."""
    if not segments:
        return lambda node: node
    if len(segments) == 1 and isinstance(segments[0], str):
        key = segments[0]

        def get_one(node: Any) -> Any:
            return node.get(key) if isinstance(node, dict) else get(node, segments)

        return get_one
    if len(segments) == 2 and all(isinstance(part, str) for part in segments):
        first, second = segments

        def get_two(node: Any) -> Any:
            if isinstance(node, dict):
                child = node.get(first)
                if isinstance(child, dict):
                    return child.get(second)
            return get(node, segments)

        return get_two
    return lambda node: get(node, segments)


Putter = Callable[[dict[str, Any], Any], None]


def putter(segments: tuple[Segment, ...]) -> Putter:
    """`put` for one star-free path, specialised for one- and two-name paths."""
    if len(segments) == 1 and isinstance(segments[0], str):
        key = segments[0]

        def put_one(document: dict[str, Any], value: Any) -> None:
            document[key] = value

        return put_one
    if len(segments) == 2 and isinstance(segments[0], str) and isinstance(segments[1], str):
        first, second = segments[0], segments[1]

        def put_two(document: dict[str, Any], value: Any) -> None:
            child = document.get(first)
            if child is None:
                child = document[first] = {}
            child[second] = value

        return put_two
    return lambda document, value: put(document, segments, value)
