"""Normalisers: pure functions from one raw value to its standard form.

Each returns the normalised value or raises NormalisationError (a code and a message); the caller
knows the field and turns it into a FieldError with `error.field_error(path)`.
"""

from app.transform.normalise.countries import normalise_country
from app.transform.normalise.currencies import minor_units, normalise_currency
from app.transform.normalise.dates import format_rfc3339, parse_datetime, parse_epoch_ms
from app.transform.normalise.emails import normalise_email
from app.transform.normalise.html import html_line, html_to_text
from app.transform.normalise.money import (
    Money,
    Rates,
    convert,
    format_amount,
    normalise_amount,
    normalise_money,
    parse_amount,
)
from app.transform.normalise.phones import normalise_phone
from app.transform.normalise.tags import normalise_tags
from app.transform.normalise.text import clean_multiline, clean_text

__all__ = [
    "Money",
    "Rates",
    "clean_multiline",
    "clean_text",
    "convert",
    "format_amount",
    "format_rfc3339",
    "html_line",
    "html_to_text",
    "minor_units",
    "normalise_amount",
    "normalise_country",
    "normalise_currency",
    "normalise_email",
    "normalise_money",
    "normalise_phone",
    "normalise_tags",
    "parse_amount",
    "parse_datetime",
    "parse_epoch_ms",
]
