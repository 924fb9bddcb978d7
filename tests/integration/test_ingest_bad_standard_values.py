"""Standard-shaped values the contract's types accept but nothing downstream can hold (a date-time
outside years 1 to 9999 once in UTC, an integer beyond 64 bits) are quarantined with a precise
error beside a valid neighbour, never a failed job."""

from typing import Any

import pytest

from app.services import Services
from tests.conftest import GraphQL, Tenant
from tests.helpers import shopify_product
from tests.integration.test_ingest_pipeline import finished_job, push, stored

BIG = 10**30  # beyond 64 bits: no integer field can take it
CASES: list[tuple[str, dict[str, Any], tuple[str, str]]] = [
    (
        "before year 1 in UTC",
        {"source_updated_at": "0001-01-01T00:00:00+01:00"},
        ("out_of_range", "source_updated_at"),
    ),
    (
        "after year 9999 in UTC",
        {"source_created_at": "9999-12-31T23:59:59-01:00"},
        ("out_of_range", "source_created_at"),
    ),
    ("integer beyond 64 bits", {"inventory_quantity": BIG}, ("out_of_range", "inventory_quantity")),
]


@pytest.mark.parametrize(("name", "fields", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_an_unholdable_value_is_quarantined_beside_a_valid_neighbour(
    gql: GraphQL,
    services: Services,
    tenant: Tenant,
    name: str,
    fields: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    records = [shopify_product(1), shopify_product(2, **fields)]
    payload = await push(gql, tenant, records)
    assert payload["errors"] == []
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "PARTIALLY_SUCCEEDED", job
    assert (job["counters"]["written"], job["counters"]["quarantined"]) == (1, 1)
    [error] = job["errors"]["nodes"]
    code, path = expected
    assert (error["code"], error["path"]) == (code, f"records[1].{path}"), error
    assert [r["externalId"] for r in await stored(gql, tenant)] == ["8072389001"]
