"""Money is a decimal string with an ISO 4217 currency: never a float, never binary noise."""

from decimal import Decimal

import pytest

from app.transform.errors import NormalisationError
from app.transform.normalise import (
    Money,
    Rates,
    convert,
    format_amount,
    minor_units,
    normalise_amount,
    normalise_currency,
    normalise_money,
    parse_amount,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("49.90", "EUR", "49.90"),
        ("49.9", "EUR", "49.90"),  # padded to the currency's minor units
        ("49.900", "EUR", "49.90"),  # equal amounts, equal strings
        ("49", "EUR", "49.00"),
        ("0.125", "EUR", "0.125"),  # more precise than cents: kept, never rounded
        ("1500", "JPY", "1500"),
        ("1500.00", "JPY", "1500"),
        ("1500.5", "JPY", "1500.5"),
        ("12.5", "KWD", "12.500"),
        ("+7", "USD", "7.00"),
        ("007.50", "USD", "7.50"),
        ("-0.00", "USD", "0.00"),  # no negative zero
        ("-12.5", "USD", "-12.50"),  # sign kept: range rules decide later
        (" 49.90 ", "EUR", "49.90"),
        ("1.5000000000", "EUR", "1.50"),  # trailing zeros beyond 6 decimals are harmless
        ("999999999999999.999999", "EUR", "999999999999999.999999"),  # the contract's limits
        (49, "EUR", "49.00"),
        (Decimal("49.9"), "EUR", "49.90"),
        (Decimal("1E+2"), "EUR", "100.00"),  # never an exponent in the output
        (49.9, "EUR", "49.90"),  # a float whose repr is an exact short decimal
        (0.5, "EUR", "0.50"),
        (1e3, "EUR", "1000.00"),
    ],
)
def test_amounts_become_canonical_decimal_strings(
    amount: object, currency: str, expected: str
) -> None:
    assert normalise_money(amount, currency) == Money(expected, currency)


@pytest.mark.parametrize(
    "amount",
    [
        0.1 + 0.2,  # 0.30000000000000004: binary float noise
        1 / 3,
        1e30,  # absurd
        "1e30",  # exponents are not decimal strings
        "1E+2",
        "1000000000000000",  # 16 digits before the point
        "0.0000001",  # 7 decimals
        "12,50",  # a decimal comma is not guessed
        "1,250.00",
        "49.90 EUR",
        "",
        "abc",
        "NaN",
        "Infinity",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        True,
        None,
        {"amount": "49.90"},  # price as an object
        ["49.90"],
    ],
)
def test_unusable_amounts_are_invalid_amount_errors(amount: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        parse_amount(amount)
    assert caught.value.code == "invalid_amount"


def test_decimal_strings_add_up_exactly() -> None:
    total = parse_amount("0.1") + parse_amount("0.2")
    assert format_amount(total, "EUR") == "0.30"
    assert format_amount(total) == "0.3"
    for noise in (0.1 + 0.2, "0.30000000000000004"):
        with pytest.raises(NormalisationError):
            normalise_amount(noise)


def test_without_a_currency_amounts_are_as_short_as_their_value() -> None:
    assert normalise_amount("49.90") == "49.9"
    assert normalise_amount("49.9") == "49.9"
    assert normalise_amount("100") == "100"
    assert normalise_amount(Decimal("4.99E+1")) == "49.9"
    assert normalise_amount(Decimal("1E+2")) == "100"


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("EUR", None, "EUR"),
        ("eur", None, "EUR"),
        (" usd ", None, "USD"),
        (None, "EUR", "EUR"),  # the client's default fills platforms without currency
        ("", "GBP", "GBP"),
        ("JPY", "EUR", "JPY"),  # a given currency wins over the default
    ],
)
def test_currencies(raw: object, default: str | None, expected: str) -> None:
    assert normalise_currency(raw, default) == expected


@pytest.mark.parametrize("raw", ["EURO", "€", "ZZZ", "XXX", "XTS", 978, None, ""])
def test_unknown_currencies_are_invalid_currency_errors(raw: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_currency(raw)
    assert caught.value.code == "invalid_currency"


def test_minor_units_table() -> None:
    assert [minor_units(code) for code in ("EUR", "USD", "JPY", "KRW", "BHD", "KWD", "TND")] == [
        2,
        2,
        0,
        0,
        3,
        3,
        3,
    ]


RATES = Rates("EUR", {"USD": Decimal("1.0850"), "JPY": Decimal("162.35"), "KWD": Decimal("0.3335")})


@pytest.mark.parametrize(
    ("money", "to", "expected"),
    [
        (Money("100.00", "EUR"), "USD", Money("108.50", "USD")),
        (Money("100.00", "USD"), "EUR", Money("92.17", "EUR")),  # 92.1658… → 92.17
        (Money("100.00", "EUR"), "JPY", Money("16235", "JPY")),
        (Money("0.10", "EUR"), "JPY", Money("16", "JPY")),  # 16.235 → 16
        (Money("100.00", "EUR"), "KWD", Money("33.350", "KWD")),
        (Money("49.90", "EUR"), "EUR", Money("49.90", "EUR")),
        (Money("100", "USD"), "JPY", Money("14963", "JPY")),  # cross rate through the base
    ],
)
def test_conversion_to_the_reporting_currency(money: Money, to: str, expected: Money) -> None:
    assert convert(money, to, RATES) == expected


def test_conversion_rounds_half_to_even() -> None:
    rates = Rates("EUR", {"USD": Decimal("1")})
    assert convert(Money("0.125", "EUR"), "USD", rates) == Money("0.12", "USD")
    assert convert(Money("0.135", "EUR"), "USD", rates) == Money("0.14", "USD")


def test_conversion_without_a_rate_is_an_error() -> None:
    with pytest.raises(NormalisationError) as caught:
        convert(Money("1.00", "GBP"), "EUR", RATES)
    assert caught.value.code == "missing_rate"
