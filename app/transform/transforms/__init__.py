"""The vocabulary of the mapping rules: every named transform, by name."""

from app.transform.transforms import (
    choices,
    lists,
    money,
    platform,
    temporal,
    values,
    woocommerce,
)
from app.transform.transforms.base import Args, Transform

_ALL = [
    Transform("copy", values.copy, "The value as it is (the default)."),
    Transform("id", values.identifier, "A string or integer id → trimmed string."),
    Transform("integer", values.integer, "An integer or integer string.", values.IntegerArgs),
    Transform("text", values.text, "One line of plain text: NFC, trimmed, no controls."),
    Transform("multiline", values.multiline, "Plain text keeping line breaks."),
    Transform("html_to_text", values.html_to_text, "HTML → plain text keeping paragraphs."),
    Transform(
        "html_line",
        values.html_line,
        "One line of plain text from text that may hold HTML (names): tags removed, entities "
        "decoded; a literal '<' or '&' kept.",
    ),
    Transform("email", values.email, "A syntax-checked, lower-cased email address."),
    Transform("phone", values.phone, "A phone number → E.164.", values.PhoneArgs),
    Transform("country", values.country, "A country name or code → ISO 3166-1 alpha-2."),
    Transform("date", temporal.date, "Any date shape → RFC 3339 UTC.", temporal.DateArgs),
    Transform("epoch_ms", temporal.epoch_ms, "Epoch milliseconds → RFC 3339 UTC."),
    Transform("money_amount", money.money_amount, "A decimal-string amount.", money.CurrencyArgs),
    Transform("decimal_string", money.decimal_string, "A plain decimal string."),
    Transform(
        "currency",
        money.currency,
        "An ISO 4217 code; absent → the client's.",
        fills_absent=True,
    ),
    Transform("money", money.money, "An amount → {amount, currency}.", money.MoneyArgs),
    Transform(
        "regular_price_on_sale",
        money.regular_price_on_sale,
        "Sources [regular, sale]: the regular price as money while a sale price is set.",
        money.CurrencyArgs,
        takes_all=True,
    ),
    Transform(
        "pricebook_price",
        platform.pricebook_price,
        "Salesforce PricebookEntries → the standard (or a named) price book's price.",
        platform.PricebookArgs,
    ),
    Transform("tags", lists.tags, "Tags, de-duplicated.", lists.TagsArgs),
    Transform("split_commas", lists.split_commas, "'a, b' → ['a', 'b']."),
    Transform("join", lists.join, "Non-empty parts joined.", lists.JoinArgs, takes_all=True),
    Transform("first_variant_sku", lists.first_variant_sku, "First variant SKU."),
    Transform(
        "variant_options",
        lists.variant_options,
        "A variant's {option name: value}.",
        lists.VariantOptionsArgs,
    ),
    Transform(
        "name_value_pairs",
        platform.name_value_pairs,
        "[{name, value}] → {name: value}, e.g. Shopify selectedOptions.",
        platform.PairsArgs,
    ),
    Transform("gid_to_id", platform.gid_to_id, "A GID → its id.", platform.GidArgs),
    Transform(
        "metafield",
        platform.metafield,
        "Shopify metafields (REST list or GraphQL nodes/edges) → the text of the one with `key` "
        "(and `namespace`).",
        platform.MetafieldArgs,
    ),
    Transform(
        "woocommerce_variations",
        woocommerce.woocommerce_variations,
        "WooCommerce variations embedded whole → variants; ids only → none.",
    ),
    Transform(
        "variation_ids",
        woocommerce.variation_ids,
        "WooCommerce variations (ids, or embedded whole) → their ids, comma-joined; an empty "
        'list → "" (the product lists none).',
        empty_is_value=True,
    ),
    Transform(
        "lookup", choices.lookup, "A value map with an optional default.", choices.LookupArgs
    ),
    Transform(
        "constant",
        choices.constant,
        "The same value for every record.",
        choices.ConstantArgs,
        needs_source=False,
    ),
]
TRANSFORMS: dict[str, Transform] = {transform.name: transform for transform in _ALL}

__all__ = ["TRANSFORMS", "Args", "Transform"]
