"""A repeated key is found from the record's canonical form without a second parse for compact
or spaced JSON that repeats nothing; the slow parse only confirms and names the key."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import exact_json
from app.ingest import repeated_keys
from app.ingest.repeated_keys import repeated_key

SPACED = {"separators": (", ", ": ")}
PRETTY = {"indent": 2}


def canonical(text: bytes) -> bytes:
    return exact_json.dumps(exact_json.loads(text), sort_keys=True)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b'{"name":"A","name":"B"}', "name"),
        (b'{"name": "A", "sku": "S", "name": "B"}', "name"),
        (b'{\n  "a": {"x": 1, "y": [{"z": 2, "z": 2}]}\n}', "z"),
        (b'{"a":{"x":1,"x":1},"b":{"y":1,"y":1}}', "x"),
        (b'{"caf\\u00e9": 1, "caf\\u00e9": 2}', "café"),
        (b'{\n  "name" : "A",\n  "name" : "B"\n}', "name"),  # a space before the colon
        (b'{"name"\n:"A","name"\n:"B"}', "name"),
        (b'{"said": "\\"x\\": 1", "said": "\\u00e9"}', "said"),
    ],
)
def test_a_repeated_key_is_named(text: bytes, key: str) -> None:
    assert repeated_key(text, canonical(text)) == key
    assert repeated_key(memoryview(text), canonical(text)) == key


def slow_parses(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    slow = repeated_keys.first_repeated_key
    monkeypatch.setattr(repeated_keys, "first_repeated_key", lambda t: calls.append(t) or slow(t))
    return calls


RECORD = {
    "external_id": "8072389001",
    "name": "Linen Shirt \u00e9",
    "description": "Relaxed fit.\n\nMachine wash:  cold, 30 °C.",
    "variants": [{"external_id": "1", "price": {"amount": "49.90", "currency": "EUR"}}],
    "attributes": {"grams": 320, "ratio": 0.25, "ok": True, "none": None},
}


@pytest.mark.parametrize("style", [{}, SPACED, PRETTY], ids=["compact", "spaced", "pretty"])
def test_json_that_repeats_nothing_is_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch, style: dict[str, Any]
) -> None:
    calls = slow_parses(monkeypatch)
    text = json.dumps(RECORD, ensure_ascii=False, **style).encode()
    assert repeated_key(text, canonical(text)) is None
    assert calls == []


def test_escapes_spelled_shorter_are_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = slow_parses(monkeypatch)
    quoting = dict(RECORD, description='He said "fit": relaxed, \u00e9 / \\/')
    for style in ({}, SPACED, PRETTY):
        text = json.dumps(quoting, **style).encode()  # ensure_ascii: é as \u00e9
        assert repeated_key(text, canonical(text)) is None
    assert calls == []


def test_the_error_names_the_key_and_the_place() -> None:
    error = repeated_keys.repeated_key_error("name", "records[3]", ("records", 3))
    assert error.code == "invalid_envelope"
    assert (
        error.message
        == "records[3] repeats the key 'name' in one object; each key may appear once."
    )
    [field] = error.errors
    assert (field.code, field.path, field.message) == (
        "duplicate_key",
        ("records", 3),
        error.message,
    )


KEYS = st.text(alphabet='abcé"\\ ', min_size=0, max_size=4)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@given(VALUES, st.sampled_from([{}, SPACED, PRETTY]), st.booleans())
def test_a_value_written_by_any_writer_repeats_nothing(
    value: Any, style: dict[str, Any], ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, **style).encode()
    assert repeated_key(text, canonical(text)) is None


@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=3), st.data())
def test_any_repeated_key_is_found(value: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    text = json.dumps(value).encode()
    text = (
        text[:-1]
        + b", "
        + json.dumps(key).encode()
        + b": "
        + json.dumps(value[key]).encode()
        + b"}"
    )
    assert repeated_key(text, canonical(text)) == key
