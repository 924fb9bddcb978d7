"""Contract validation of values its types accept but nothing downstream can hold."""

import orjson
import pytest

from app.contracts.entities import Entity
from app.records.validation import ValidRecord, validate_record

BASE = b'"external_id":"1","source_platform":"custom","name":"Shirt"'


def _product(fields: bytes) -> bytes:
    return b"{" + BASE + b"," + fields + b"}"


@pytest.mark.parametrize(
    ("moment", "path"),
    [
        ("0001-01-01T00:00:00+01:00", "source_updated_at"),
        ("9999-12-31T23:59:59-01:00", "source_updated_at"),
    ],
)
def test_a_date_time_outside_years_1_to_9999_in_utc_is_out_of_range(moment: str, path: str) -> None:
    [error] = validate_record(
        Entity.PRODUCT, _product(b'"source_updated_at":' + orjson.dumps(moment))
    )
    assert (error.code, error.path) == ("out_of_range", (path,))
    assert "year 1 or after 9999" in error.message


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        (b'"inventory_quantity":1e30', ("inventory_quantity",)),
        (b'"inventory_quantity":1000000000000000000000000000000', ("inventory_quantity",)),
        (b'"attributes":{"grams":-1000000000000000000000000000000}', ("attributes", "grams")),
        (
            b'"variants":[{"external_id":"v","inventory_quantity":18446744073709551616}]',
            ("variants", 0, "inventory_quantity"),
        ),
    ],
)
def test_an_integer_beyond_64_bits_is_out_of_range_at_its_path(
    fields: bytes, path: tuple[str | int, ...]
) -> None:
    now = b'"source_updated_at":"2026-11-01T10:00:00Z",'
    [error] = validate_record(Entity.PRODUCT, _product(now + fields))
    assert (error.code, error.path, error.message) == (
        "out_of_range",
        path,
        "Integer out of range: integers are at most 64 bits "
        "(send a longer numeric id as a string).",
    )


def test_the_largest_64_bit_integer_is_kept() -> None:
    now = b'"source_updated_at":"2026-11-01T10:00:00Z",'
    record = validate_record(
        Entity.PRODUCT, _product(now + b'"inventory_quantity":18446744073709551615')
    )
    assert isinstance(record, ValidRecord)
    assert record.data["inventory_quantity"] == 2**64 - 1
