"""JSON that keeps every number a partner sent.

orjson, the fast codec used elsewhere, reads an integer literal beyond 64 bits as a float (a
different number, silently) and refuses to write such an integer. Partners' records are read and
written through these functions instead, so validation refuses such an integer at its path
(`out_of_range`, app.records.validation) rather than storing a rounded float, and the quarantine
shows the digits as they were sent."""

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import orjson

JSONText = bytes | bytearray | memoryview | str

INTEGER_RANGE = (-(2**63), 2**64 - 1)  # what JSON tools and our stores take without loss
_decode = msgspec.json.Decoder().decode
# What msgspec refuses, orjson refuses too (and words better): checked case by case in the tests.
_REFUSED = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


def loads(data: JSONText) -> Any:
    """A partner's JSON text read as orjson reads it (its errors too: orjson.JSONDecodeError),
    except that an integer beyond 64 bits keeps every digit. msgspec, as fast, reads it."""
    try:
        return _decode(data)
    except _REFUSED:
        return orjson.loads(data)


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """orjson's writing, or for a value holding an integer beyond 64 bits, the same compact
    JSON written by the standard library (its floats may be spelled differently: 1e+30)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:
        if not holds_a_wide_integer(value):
            raise
    text = json.dumps(
        value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode()


def holds_a_wide_integer(value: Any) -> bool:
    """Whether a JSON value holds, at any depth, an integer beyond 64 bits."""
    return next(wide_integer_paths(value), None) is not None


def wide_integer_paths(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """Where a JSON value holds integers beyond 64 bits, as paths of keys and indexes."""
    if isinstance(value, int):
        low, high = INTEGER_RANGE
        if not low <= value <= high:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from wide_integer_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from wide_integer_paths(item, (*path, index))
