"""WooCommerce variations as a variable product's variants.

WooCommerce's own product lists its variations by id only (`variations: [813, 814]`); a partner
may embed each variation whole (the objects /products/<id>/variations returns: `id`, `name`,
`sku`, `price`/`regular_price`/`sale_price` strings with "" for unset, `stock_quantity`,
`attributes: [{id, name, option}]`). Ids give no variants; embedded objects give one each.
Either way the ids are kept (`variation_ids`): a stored variant whose variation the product no
longer lists was deleted in WooCommerce, and goes (app.records.variations).
"""

from typing import Any

from app.transform.context import Scope
from app.transform.errors import NormalisationError
from app.transform.transforms.base import Args, wrong_type
from app.transform.transforms.money import MoneyArgs, money
from app.transform.transforms.platform import PairsArgs, name_value_pairs
from app.transform.transforms.values import IntegerArgs, identifier, integer, text

_OPTIONS = PairsArgs(value_key="option")
_PRICES = ("sale_price", "regular_price", "price")  # the sale price while one is set


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _variant(variation: dict[str, Any], scope: Scope) -> dict[str, Any]:
    variant: dict[str, Any] = {"external_id": identifier(variation.get("id"), Args(), scope)}
    for name, source in (("sku", "sku"), ("name", "name")):
        if _present(found := variation.get(source)):
            variant[name] = text(found, Args(), scope)
    price = next((variation[k] for k in _PRICES if _present(variation.get(k))), None)
    if price is not None:
        variant["price"] = money(price, MoneyArgs(), scope)
    if _present(attributes := variation.get("attributes")):
        variant["options"] = name_value_pairs(attributes, _OPTIONS, scope)
    if _present(quantity := variation.get("stock_quantity")):
        variant["inventory_quantity"] = integer(quantity, IntegerArgs(), scope)
    return variant


def woocommerce_variations(value: Any, args: Args, scope: Scope) -> list[dict[str, Any]] | None:
    """Embedded variation objects → variants; a list of ids only → none (not an error)."""
    if not isinstance(value, list):
        raise wrong_type(value, "a list of variations")
    if all(isinstance(item, int | str) and not isinstance(item, bool) for item in value):
        return None
    variants = []
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise wrong_type(item, "variation objects (or ids only), not a mix")
        try:
            variants.append(_variant(item, scope))
        except NormalisationError as error:
            raise NormalisationError(error.code, f"[{position}]: {error.message}") from None
    return variants or None


def variation_ids(value: Any, args: Args, scope: Scope) -> str:
    """The variation ids a product lists (ids, or the ids of variations embedded whole), joined
    with commas; "" when it lists none (a simple product, or every variation deleted)."""
    if not isinstance(value, list):
        raise wrong_type(value, "a list of variations")
    ids = []
    for position, item in enumerate(value):
        try:
            found = identifier(item.get("id") if isinstance(item, dict) else item, args, scope)
        except NormalisationError as error:
            raise NormalisationError(error.code, f"[{position}]: {error.message}") from None
        if "," in found:
            raise NormalisationError("invalid_id", f"[{position}]: {found!r} holds a comma")
        ids.append(found)
    return ",".join(ids)
