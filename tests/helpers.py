"""Realistic payloads and the operations partners run."""

from typing import Any

from app.jobs.dispatch import InProcessDispatcher
from app.services import Services

INGEST = {
    "product": ("ingestProducts", "IngestProductsInput"),
    "asset": ("ingestAssets", "IngestAssetsInput"),
    "campaign": ("ingestCampaigns", "IngestCampaignsInput"),
    "audience": ("ingestAudience", "IngestAudienceInput"),
}

JOB_FIELDS = """
  id entity status door attempts failureReason requestId idempotencyKey
  counters { received valid quarantined unchanged stale written processed }
  errors(first: 500) { nodes { index externalId code message path } }
"""


def ingest_mutation(entity: str) -> str:
    field, input_type = INGEST[entity]
    return f"""mutation Push($input: {input_type}!) {{
      {field}(input: $input) {{ job {{ {JOB_FIELDS} }} replayed errors {{ code message path }} }}
    }}"""


JOB_QUERY = f"query Job($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"

RECORDS_QUERY = """query Records($entity: Entity!, $ids: [String!], $first: Int!, $after: String) {
  records(entity: $entity, externalIds: $ids, first: $first, after: $after) {
    nodes { externalId sourcePlatform sourceUpdatedAt version data }
    pageInfo { endCursor hasNextPage }
  }
}"""


def shopify_product(
    number: int, updated_at: str = "2026-11-01T10:00:00Z", **overrides: Any
) -> dict[str, Any]:
    """Shaped like a Shopify catalog entry mapped to the standard schema: variants and images."""
    product: dict[str, Any] = {
        "external_id": f"{8072389000 + number}",
        "source_platform": "shopify",
        "source_updated_at": updated_at,
        "source_created_at": "2025-03-14T08:30:00+01:00",
        "name": f"Linen Shirt {number}",
        "sku": f"LS-{number:05d}",
        "description": "Relaxed fit shirt in washed European linen.\n\nMachine wash cold.",
        "status": "active",
        "price": {"amount": "49.90", "currency": "EUR"},
        "compare_at_price": {"amount": "59.90", "currency": "EUR"},
        "vendor": "Nordlinen",
        "categories": ["Apparel", "Shirts"],
        "tags": ["summer", "linen", "bestseller"],
        "url": f"https://shop.example.com/products/linen-shirt-{number}",
        "images": [
            {"url": f"https://cdn.example.com/p/{number}/front.jpg", "alt": "Front", "position": 0},
            {"url": f"https://cdn.example.com/p/{number}/back.jpg", "alt": "Back", "position": 1},
        ],
        "variants": [
            {
                "external_id": f"{44000000 + number * 10 + size}",
                "sku": f"LS-{number:05d}-{label}",
                "name": label,
                "price": {"amount": "49.90", "currency": "EUR"},
                "options": {"size": label, "color": "Sand"},
                "inventory_quantity": 5 + size,
            }
            for size, label in enumerate(["S", "M", "L"])
        ],
        "inventory_quantity": 18,
        "attributes": {"material": "linen", "care": "machine wash", "weight_grams": 240},
    }
    product.update(overrides)
    return product


async def drain(services: Services) -> None:
    """Wait for the in-process workers to finish everything dispatched so far."""
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InProcessDispatcher)
    await dispatcher.join()
