"""Money transforms: amounts as decimal strings, currencies, {amount, currency} objects."""

from functools import lru_cache
from typing import Any

from pydantic import Field, field_validator

from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.paths import get, parse_path
from app.transform.transforms.base import Args


class CurrencyArgs(Args):
    currency: str | None = Field(
        default=None, description="Fixed ISO 4217 code; default: the client's currency."
    )

    @field_validator("currency")
    @classmethod
    def _iso_code(cls, code: str | None) -> str | None:
        return None if code is None else norm.normalise_currency(code)


def money_amount(value: Any, args: CurrencyArgs, scope: Scope) -> str:
    """An amount padded to the currency's minor units (the fixed or the client's currency)."""
    return norm.normalise_amount(value, args.currency or scope.defaults.currency)


def decimal_string(value: Any, args: Args, scope: Scope) -> str:
    """A plain decimal string, as precise as given, with no currency assumed."""
    return norm.normalise_amount(value)


def currency(value: Any, args: Args, scope: Scope) -> str:
    return norm.normalise_currency(value, scope.defaults.currency)


class MoneyArgs(CurrencyArgs):
    currency_source: str | None = Field(
        default=None,
        description="Path in the record to the currency code; when absent: `currency`, then "
        "the client's currency.",
        examples=["CurrencyIsoCode"],
    )
    money_object: bool = Field(
        default=False,
        description="Also accept an object {amount, currencyCode} (Shopify's MoneyV2) or "
        "{amount, currency}; its currency comes first.",
    )

    @field_validator("currency_source")
    @classmethod
    def _path(cls, path: str | None) -> str | None:
        if path is not None:
            parse_path(path)
        return path


@lru_cache(maxsize=64)
def _default_currency(default: str | None) -> str:
    """The fixed or the client's currency, checked once (prices of every variant, every record);
    an invalid one is not cached, so it raises every time."""
    return norm.normalise_currency(None, default)


def money(value: Any, args: MoneyArgs, scope: Scope) -> dict[str, str]:
    code = (
        get(scope.record, parse_path(args.currency_source).segments)
        if args.currency_source
        else None
    )
    if args.money_object and isinstance(value, dict):
        code = value.get("currencyCode", value.get("currency")) or code
        value = value.get("amount")
    if code is None:
        currency = _default_currency(args.currency or scope.defaults.currency)
    else:
        currency = norm.normalise_currency(code, args.currency or scope.defaults.currency)
    return {"amount": norm.normalise_amount(value, currency), "currency": currency}


def regular_price_on_sale(values: Any, args: CurrencyArgs, scope: Scope) -> dict[str, str] | None:
    """Sources [regular price, sale price]: the regular price as money while a sale price is
    set (the 'compare at' price), else nothing."""
    if not isinstance(values, list) or len(values) < 2:  # one of the two is unset
        return None
    return norm.normalise_money(values[0], None, args.currency or scope.defaults.currency).as_dict()
