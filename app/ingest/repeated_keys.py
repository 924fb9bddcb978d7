"""A JSON object that names one key twice. Parsers keep the last value and drop the other without
a word, so every door refuses such a record instead, naming the key.

Finding one costs next to nothing. A record's canonical form (compact, one value per key) is as
long as its text unless the text has whitespace, escapes the canonical form spells shorter
(\\u00e9 as é) or a repeated key; and it has as many colons as the text (one per key, and those
in strings) unless the text repeats a key. Only a text with more colons is parsed again, slowly,
to find the key. (A repeat hidden by a colon written as \\u003a elsewhere goes unnoticed: the
last value wins, as in any parser.)"""

import json
from typing import Any

from app import exact_json
from app.errors import FieldError, GatewayError


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def repeated_key(text: bytes | memoryview, canonical: bytes) -> str | None:
    """The key that one of `text`'s objects names twice, if any; `canonical` is the text's
    canonical form (app.ingest.service.canonical_form, or any compact writing of its value)."""
    if len(canonical) >= len(text):
        return None
    raw = bytes(text)
    if raw.count(b":") <= canonical.count(b":"):
        return None
    return first_repeated_key(raw)


def read_document(text: bytes) -> tuple[Any, str | None]:
    """A whole JSON text read (failing as exact_json.loads fails), and the key one of its
    objects repeats, if any."""
    value = exact_json.loads(text)
    return value, repeated_key(text, exact_json.dumps(value))


def first_repeated_key(text: bytes | str) -> str | None:
    """The slow, certain way: the first key an object of `text` repeats."""
    try:
        json.loads(text, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as repeated:
        return repeated.key
    except (ValueError, RecursionError):  # read differently by the standard library: no repeat
        return None
    return None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return found


def repeated_key_error(
    key: str, where: str, path: tuple[str | int, ...], code: str = "invalid_envelope"
) -> GatewayError:
    """The request error for a repeated key: `where` names the object's place for a person
    (records[3], "The request body"), `path` for the error's field path."""
    message = repeated_key_message(key, where)
    return GatewayError(code, message, errors=[FieldError("duplicate_key", message, path)])


def repeated_key_message(key: str, where: str) -> str:
    return f"{where} repeats the key {key!r} in one object; each key may appear once."
