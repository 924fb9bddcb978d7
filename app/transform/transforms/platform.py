"""Transforms for platform-specific shapes: Shopify GIDs, Salesforce price books, lists of
{name, value} pairs, and a sale's regular price."""

import re
from typing import Any

from pydantic import Field

from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.errors import NormalisationError
from app.transform.transforms.base import Args, wrong_type

_GID = re.compile(r"^gid://[A-Za-z0-9-]+/([A-Za-z0-9_]+)/([^/?#\s]+)(?:\?\S*)?$")


class GidArgs(Args):
    type: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_]+$",
        description="The resource type the GID must name, e.g. Product; others are errors.",
        examples=["Product", "ProductVariant"],
    )


def gid_to_id(value: Any, args: GidArgs, scope: Scope) -> str:
    """'gid://shopify/Product/8072389472001' → '8072389472001' (the REST API's id)."""
    if not isinstance(value, str):
        raise wrong_type(value, "a GID string such as gid://shopify/Product/123")
    match = _GID.match(value.strip())
    if match is None:
        raise NormalisationError("invalid_id", f"{value!r} is not a GID (gid://<app>/<Type>/<id>)")
    if args.type is not None and match[1] != args.type:
        raise NormalisationError("invalid_id", f"{value!r} is a {match[1]} GID, not {args.type}")
    return match[2]


class PricebookArgs(Args):
    pricebook_id: str | None = Field(
        default=None,
        min_length=15,
        max_length=18,
        description="Read this price book (its Pricebook2Id); default: the standard price book, "
        "known by the entry's Pricebook2.IsStandard.",
    )
    active_only: bool = Field(default=True, description="Skip entries whose IsActive is false.")


def _entries(value: Any) -> list[Any]:
    """A child relationship {totalSize, done, records: [...]} or the records list itself."""
    entries = value.get("records") if isinstance(value, dict) else value
    if not isinstance(entries, list):
        raise wrong_type(value, "price book entries ({records: [...]} or a list)")
    return entries


def _in_book(entry: dict[str, Any], args: PricebookArgs) -> bool:
    if args.active_only and entry.get("IsActive") is False:
        return False
    if args.pricebook_id is not None:
        return entry.get("Pricebook2Id") == args.pricebook_id
    book = entry.get("Pricebook2")
    return isinstance(book, dict) and book.get("IsStandard") is True


def pricebook_price(value: Any, args: PricebookArgs, scope: Scope) -> dict[str, str] | None:
    """The product's price from its price book entries: of the entries in the book, the one in
    the client's currency, else the first; none in the book leaves the price unset."""
    candidates: list[tuple[int, dict[str, Any]]] = []
    for position, entry in enumerate(_entries(value)):
        if not isinstance(entry, dict):
            raise wrong_type(entry, f"a PricebookEntry object at records[{position}]")
        if _in_book(entry, args):
            candidates.append((position, entry))
    if not candidates:
        return None
    preferred = scope.defaults.currency
    position, entry = next(
        (found for found in candidates if found[1].get("CurrencyIsoCode") == preferred),
        candidates[0],
    )
    amount, code = entry.get("UnitPrice"), entry.get("CurrencyIsoCode")
    try:
        money = norm.normalise_money(amount, code, preferred)
    except NormalisationError as error:
        where = f"records[{position}].UnitPrice"
        raise NormalisationError(error.code, f"{where}: {error.message}") from None
    return money.as_dict()


class PairsArgs(Args):
    name_key: str = Field(default="name", min_length=1, description="The key holding the name.")
    value_key: str = Field(default="value", min_length=1, description="The key holding the value.")
    skip_values: list[str] = Field(
        default=[], description="Values that mean 'none', e.g. Shopify's 'Default Title'."
    )


def name_value_pairs(value: Any, args: PairsArgs, scope: Scope) -> dict[str, str]:
    """[{name: 'Size', value: 'M'}, ...] → {'Size': 'M'}; pairs without text are skipped."""
    if not isinstance(value, list):
        raise wrong_type(value, "a list of {name, value} objects")
    pairs: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict):
            raise wrong_type(item, "a {name, value} object")
        name, text = item.get(args.name_key), item.get(args.value_key)
        if not isinstance(name, str) or not isinstance(text, str) or text in args.skip_values:
            continue
        if (key := norm.clean_text(name)) and (cleaned := norm.clean_text(text)):
            pairs[key] = cleaned
    return pairs


class MetafieldArgs(Args):
    key: str = Field(min_length=1, description="The metafield's key.", examples=["material"])
    namespace: str | None = Field(
        default=None, min_length=1, description="Its namespace; any namespace when omitted."
    )


def _metafield_nodes(value: Any) -> list[Any]:
    """REST `[{namespace, key, value}]`, or GraphQL `{nodes: [...]}` / `{edges: [{node}]}`."""
    if isinstance(value, dict):
        if isinstance(value.get("nodes"), list):
            return list(value["nodes"])
        if isinstance(value.get("edges"), list):
            return [edge.get("node") if isinstance(edge, dict) else edge for edge in value["edges"]]
    if isinstance(value, list):
        return value
    raise wrong_type(value, "a list of metafields ({namespace, key, value})")


def metafield(value: Any, args: MetafieldArgs, scope: Scope) -> str | None:
    """The text value of the metafield with the key (and namespace); absent → unset."""
    for node in _metafield_nodes(value):
        if not isinstance(node, dict):
            raise wrong_type(node, "a metafield object ({namespace, key, value})")
        if node.get("key") != args.key:
            continue
        if args.namespace is not None and node.get("namespace") != args.namespace:
            continue
        found = node.get("value")
        if found is None:
            return None
        if not isinstance(found, str | int | float | bool):
            raise wrong_type(found, "a metafield value (a string)")
        return norm.clean_text(str(found)) or None
    return None
