"""Money as decimal strings, never floats.

Canonical amount: plain notation (no exponent, no '+', no leading zeros) with at least the
currency's minor units and no more decimals than the value needs: '49.9' EUR → '49.90',
'49.900' → '49.90', '0.125' → '0.125', '1500' JPY → '1500'. Equal amounts in one currency are
then equal strings, so content hashes and field diffs do not see '49.9' vs '49.90' as a change.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from app.transform.errors import NormalisationError
from app.transform.normalise.currencies import MINOR_UNITS, minor_units, normalise_currency

MAX_INTEGER_DIGITS = 15
MAX_DECIMALS = 6
_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# Canonical for a currency with two minor units once padded to 2 decimals: no sign, no
# leading zero, at most 2 decimals.
_SHORT_CENTS = re.compile(r"(?:0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?")
_PADDING = {0: ".00", 2: "0", 3: ""}  # by the length of the decimals part, point included


@dataclass(frozen=True)
class Money:
    amount: str
    currency: str

    def as_dict(self) -> dict[str, str]:
        return {"amount": self.amount, "currency": self.currency}


def _invalid(value: object, why: str) -> NormalisationError:
    return NormalisationError("invalid_amount", f"{value!r} is not a usable amount: {why}.")


def _from_float(value: float) -> Decimal:
    """A float is accepted only when its shortest repr is a short decimal (49.9), never when it
    carries binary noise (0.1 + 0.2 = 0.30000000000000004)."""
    amount = Decimal(repr(value))
    if not amount.is_finite() or _decimals(amount) > MAX_DECIMALS:
        raise _invalid(value, "a float that is not an exact decimal; send a decimal string")
    return amount


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise _invalid(value, "a boolean")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _from_float(value)
    if isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
        return Decimal(value.strip())
    raise _invalid(value, 'expected a decimal string such as "49.90"')


def parse_amount(value: object) -> Decimal:
    """A decimal within the contract's limits (15 digits before the point, 6 after)."""
    amount = _to_decimal(value)
    if not amount.is_finite():
        raise _invalid(value, "not a finite number")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise _invalid(value, f"more than {MAX_INTEGER_DIGITS} digits before the point")
    if _decimals(amount.normalize()) > MAX_DECIMALS:
        raise _invalid(value, f"more than {MAX_DECIMALS} decimals")
    return amount


def _decimals(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def format_amount(amount: Decimal, currency: str | None = None) -> str:
    """Plain notation; with a currency, padded to its minor units (see the module docstring)."""
    places = _decimals(amount.normalize())
    if currency is not None:
        places = max(places, minor_units(currency))
    text = f"{amount.quantize(Decimal(1).scaleb(-places)):f}"
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def normalise_amount(value: object, currency: str | None = None) -> str:
    # MINOR_UNITS holds only the exceptions to two minor units
    if isinstance(value, str) and currency is not None and currency not in MINOR_UNITS:
        short = _SHORT_CENTS.fullmatch(value)
        if short:  # '49.9' → '49.90' without Decimal: what format_amount would make of it
            return value + _PADDING[len(short[1] or "")]
    return format_amount(parse_amount(value), currency)


def normalise_money(
    amount: object, currency: object = None, default_currency: str | None = None
) -> Money:
    code = normalise_currency(currency, default_currency)
    return Money(normalise_amount(amount, code), code)


@dataclass(frozen=True)
class Rates:
    """Exchange rates: one unit of `base` buys `rates[code]` units of code (Decimal only)."""

    base: str
    rates: Mapping[str, Decimal]

    def rate(self, currency: str) -> Decimal:
        if currency == self.base:
            return Decimal(1)
        rate = self.rates.get(currency)
        if rate is None or not rate.is_finite() or rate <= 0:
            raise NormalisationError(
                "missing_rate", f"No exchange rate for {currency} (base {self.base})."
            )
        return rate


def convert(money: Money, to_currency: str, rates: Rates) -> Money:
    """Into the reporting currency, rounded half-even to its minor units."""
    target = normalise_currency(to_currency)
    if target == money.currency:
        return money
    amount = Decimal(money.amount) / rates.rate(money.currency) * rates.rate(target)
    rounded = amount.quantize(Decimal(1).scaleb(-minor_units(target)), rounding=ROUND_HALF_EVEN)
    return Money(format_amount(rounded, target), target)
