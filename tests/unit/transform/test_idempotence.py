"""Normalising a normalised value changes nothing: a table of the awkward inputs from the other
tests (generated inputs: test_normaliser_properties.py)."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from app.transform import normalise as norm

BERLIN = ZoneInfo("Europe/Berlin")


def _date(value: object) -> str:
    return norm.format_rfc3339(norm.parse_datetime(value, BERLIN))


def _money(value: object) -> str:
    return norm.normalise_amount(value, "EUR")


def _phone(value: object) -> str:
    return norm.normalise_phone(value, "GB")


CASES: list[tuple[Callable[[object], object], list[object]]] = [
    (
        _date,
        [
            "2026-11-01T05:00:00-05:00",
            "2026-07-01 10:00",
            "1572480000123",
            "Sun, 01 Nov 2026 10:00:00 GMT",
        ],
    ),
    (_money, ["49.9", "0.125", "007.50", "-0.00", "1500"]),
    (norm.normalise_amount, ["49.90", "1.5000000", "100"]),
    (norm.clean_text, ["  Cafe\u0301 \x00 x\n y ", "a\u200bb", "\ud800x"]),
    (norm.clean_multiline, [" a \r\n\r\n\r\n b\t c "]),
    (norm.html_to_text, ["<p>Fish &amp; chips</p><p>Line<br>two</p><ul><li>x</li></ul>"]),
    (norm.normalise_email, [" Ana.Silva@Example.COM "]),
    (_phone, ["020 7946 0018", "+1 415-555-0132"]),
    (norm.normalise_country, ["deutschland", "DEU", "United States of America", "Russia"]),
    (norm.normalise_tags, ["Summer, linen ,SUMMER", [{"name": "A"}, {"label": "a"}]]),
]


@pytest.mark.parametrize(
    ("normalise", "raw"), [(normalise, raw) for normalise, raws in CASES for raw in raws]
)
def test_normalising_twice_changes_nothing(
    normalise: Callable[[object], object], raw: object
) -> None:
    once = normalise(raw)
    assert normalise(once) == once
