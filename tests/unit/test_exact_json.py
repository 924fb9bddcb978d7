"""exact_json reads and writes what orjson does, except that an integer beyond 64 bits keeps
every digit instead of becoming a float (or an error)."""

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import exact_json

WIDE = 10**30


@pytest.mark.parametrize(
    "text",
    [
        b'{"serial": 1000000000000000000000000000000}',
        '{"serial": 1000000000000000000000000000000}',
        memoryview(b'{"serial": 1000000000000000000000000000000}'),
    ],
    ids=["bytes", "str", "memoryview"],
)
def test_an_integer_beyond_64_bits_keeps_every_digit(text: Any) -> None:
    assert orjson.loads(text) == {"serial": 1e30}  # what the fast parser alone makes of it
    value = exact_json.loads(text)
    assert value == {"serial": WIDE} and isinstance(value["serial"], int)


@pytest.mark.parametrize("number", [2**64 - 1, -(2**63), 2**64, -(2**63) - 1, -(10**40)])
def test_both_ends_of_the_64_bit_range(number: int) -> None:
    assert exact_json.loads(f"[{number}]") == [number]
    assert exact_json.dumps([number]) == f"[{number}]".encode()


def test_long_digit_runs_that_are_not_wide_integers_read_as_orjson_reads_them() -> None:
    text = b'{"pi": 3.14159265358979323846264, "ean": "12345678901234567890123", "e": 1e30}'
    assert exact_json.loads(text) == orjson.loads(text)


REFUSED = {
    "nan": b"[1000000000000000000000000000000, NaN]",
    "lone surrogate": b'[1000000000000000000000000000000, "\\ud800"]',
    "reversed surrogate pair": b'["\\ude00\\ud83d"]',
    "encoded surrogate": b'"\xed\xa0\x80"',
    "not utf-8": b"\xff[1000000000000000000000000000000]",
    "byte order mark": b"\xef\xbb\xbf[1]",
    "trailing comma": b"[1000000000000000000000000000000,]",
    "trailing object comma": b'{"a":1,}',
    "leading zero": b"[01]",
    "bare point": b"[.5]",
    "plus sign": b"[+1]",
    "raw tab in a string": b'["a\tb"]',
    "raw nul in a string": b'["a\x00b"]',
    "unknown escape": b'["\\x41"]',
    "infinite": b"[1e400]",
    "4301 digits": b"[" + b"9" * 4301 + b"]",
    "too deep": b"[" * 1100 + b"]" * 1100,
    "trailing text": b"[1] x",
    "empty": b"  ",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_what_orjson_refuses_is_refused_with_its_words(text: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError) as refused:
        orjson.loads(text)
    with pytest.raises(orjson.JSONDecodeError) as error:
        exact_json.loads(text)
    assert str(error.value) == str(refused.value)


ACCEPTED = [
    b'["\\/", "\\ud83d\\ude00", "a\\u0000b", {"a": 1, "a": 2}]',
    b" [1E5, 0e0, 1.0e-400, -0, 9007199254740993, 2.5] \n",
    b'{"deep": ' + b"[" * 200 + b"]" * 200 + b"}",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_what_orjson_accepts_reads_the_same(text: bytes) -> None:
    assert exact_json.loads(text) == orjson.loads(text)


def test_a_value_without_wide_integers_is_written_by_orjson() -> None:
    value = {"b": [1, 2.5, "x"], "a": {"ü": None, "n": 2**64 - 1}}
    assert exact_json.dumps(value) == orjson.dumps(value)
    assert exact_json.dumps(value, sort_keys=True) == orjson.dumps(
        value, option=orjson.OPT_SORT_KEYS
    )


def test_a_wide_integer_is_written_compact_and_sorted() -> None:
    value = {"b": WIDE, "a": ["é", 1.5, True, None]}
    assert exact_json.dumps(value, sort_keys=True) == (
        '{"a":["é",1.5,true,null],"b":1000000000000000000000000000000}'.encode()
    )


def test_what_json_cannot_write_is_still_an_error() -> None:
    with pytest.raises(TypeError):
        exact_json.dumps({"when": object(), "n": WIDE})
    with pytest.raises(TypeError):
        exact_json.dumps({"when": object()})


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_what_is_written_reads_back_the_same(value: Any) -> None:
    assert exact_json.loads(exact_json.dumps(value)) == value
    assert exact_json.loads(exact_json.dumps(value).decode()) == value
    assert exact_json.loads(json.dumps(value)) == value
    assert exact_json.holds_a_wide_integer(value) == any_wide(value)


def any_wide(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    )
    return any(any_wide(child) for child in children)
