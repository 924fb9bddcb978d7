"""ISO 4217 currency codes (pycountry) and their minor units (pycountry has none)."""

from functools import lru_cache

import pycountry

from app.transform.errors import NormalisationError

DEFAULT_MINOR_UNITS = 2
# The common exceptions to two decimal places (ISO 4217 minor units).
MINOR_UNITS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
# ISO 4217 codes that are not money one can price in (testing, no currency, metals).
_NOT_MONEY = {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD"}


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS)


def normalise_currency(value: object, default: str | None = None) -> str:
    """'eur ' → 'EUR'; missing → the client's default currency; unknown → invalid_currency."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise NormalisationError(
                "invalid_currency", "No currency given and the client has no default currency."
            )
        value = default
    if not isinstance(value, str):
        raise NormalisationError("invalid_currency", f"{value!r} is not an ISO 4217 code.")
    code = value.strip().upper()
    if not _is_currency(code):
        raise NormalisationError("invalid_currency", f"{value!r} is not an ISO 4217 currency code.")
    return code


@lru_cache(maxsize=512)
def _is_currency(code: str) -> bool:
    return code not in _NOT_MONEY and pycountry.currencies.get(alpha_3=code) is not None
