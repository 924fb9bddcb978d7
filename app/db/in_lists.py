"""Values for IN (...) in a few fixed list lengths, so that a statement's SQL text repeats."""

from collections.abc import Sequence
from typing import TypeVar

Value = TypeVar("Value")


def in_lists(values: Sequence[Value], size: int) -> list[list[Value]]:
    """`values` in lists of at most `size` for IN (...), each padded by repeating its last value
    up to the next of a few lengths (powers of two, then `size`). The driver sends one SQL text
    per length (a placeholder per value), each prepared and kept apart by the connection and
    PostgreSQL; a duplicate in IN changes no result."""
    chunks = [list(values[start : start + size]) for start in range(0, len(values), size)]
    return [_padded(chunk, size) for chunk in chunks]


def _padded(chunk: list[Value], size: int) -> list[Value]:
    length = min(1 << (len(chunk) - 1).bit_length(), size)
    return chunk + [chunk[-1]] * (length - len(chunk))
