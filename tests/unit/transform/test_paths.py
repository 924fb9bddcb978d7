"""Dotted paths with [n] and [*]: parsing, reading and writing JSON documents."""

from typing import Any

import pytest

from app.transform.errors import NormalisationError
from app.transform.paths import STAR, count, get, parse_path, put


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("id", ("id",)),
        ("properties.hs_object_id", ("properties", "hs_object_id")),
        ("variants[0].price", ("variants", 0, "price")),
        ("images[*].src", ("images", STAR, "src")),
        ("PricebookEntries.records[0].UnitPrice", ("PricebookEntries", "records", 0, "UnitPrice")),
        ("matrix[1][2]", ("matrix", 1, 2)),
        ("meta_data[*].value", ("meta_data", STAR, "value")),
    ],
)
def test_parse(text: str, segments: tuple[Any, ...]) -> None:
    assert parse_path(text).segments == segments


@pytest.mark.parametrize(
    "text",
    ["", ".id", "id.", "a..b", "a[]", "a[x]", "a[-1]", "a b", "a[*].b[*]", "[0]", "a.[0]"],
)
def test_malformed_paths(text: str) -> None:
    with pytest.raises(ValueError, match="path"):
        parse_path(text)


DOCUMENT = {"id": 1, "variants": [{"sku": "A"}, {"sku": None}, {}], "properties": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id", 1),
        ("variants[0].sku", "A"),
        ("variants[1].sku", None),
        ("variants[9].sku", None),  # past the end: absent
        ("properties.email", None),  # through null: absent
        ("missing.deeper", None),
    ],
)
def test_get(text: str, expected: object) -> None:
    assert get(DOCUMENT, parse_path(text).segments) == expected


def test_walking_through_the_wrong_container_is_a_type_error() -> None:
    with pytest.raises(NormalisationError, match=r"variants\[0\] should be an object, not str"):
        get({"variants": ["oops"]}, parse_path("variants[0].sku").segments)
    with pytest.raises(NormalisationError, match="an array"):
        count({"images": {"src": "x"}}, parse_path("images[*].src"))


def test_count_and_at() -> None:
    path = parse_path("variants[*].sku")
    assert count(DOCUMENT, path) == 3
    assert count({}, path) == 0
    assert path.at(2).text == "variants[2].sku"
    assert path.at(2).segments == ("variants", 2, "sku")


def test_put_creates_objects_and_arrays() -> None:
    document: dict[str, Any] = {}
    put(document, ("price", "amount"), "49.90")
    put(document, ("variants", 1, "sku"), "B")
    put(document, ("variants", 0, "sku"), "A")
    put(document, ("attributes", "handle"), "linen-shirt")
    assert document == {
        "price": {"amount": "49.90"},
        "variants": [{"sku": "A"}, {"sku": "B"}],
        "attributes": {"handle": "linen-shirt"},
    }
