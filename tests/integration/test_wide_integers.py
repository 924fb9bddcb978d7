"""An integer beyond 64 bits, through any door, is quarantined at its path with the digits the
partner sent: never stored as a rounded float (what a fast JSON parser makes of it), never a 500."""

import re
from typing import Any

import orjson
import pytest

from app.services import Services
from tests.conftest import GraphQL, Tenant
from tests.helpers import JOB_QUERY, drain, ingest_mutation, shopify_product
from tests.integration.test_bulk_ingest import NDJSON
from tests.integration.test_ingest_pipeline import finished_job, stored
from tests.integration.test_ingest_raw import INGEST_RAW, client_defaults, shopify_page
from tests.integration.test_quarantine import QUARANTINE
from tests.integration.test_webhooks import SHOPIFY_SECRET, connect, path_of, shopify_headers
from tests.unit.transform.conftest import fixture

WIDE = "123456789012345678901234567890"
PLACEHOLDER = 424242  # written into the JSON, then swapped for the wide literal in the text


def two_products_text() -> bytes:
    """A valid product and one whose attributes hold the wide integer, as JSON text."""
    wide = shopify_product(2, attributes={"serial": PLACEHOLDER})
    text = orjson.dumps({"records": [shopify_product(1), wide]})
    return text.replace(str(PLACEHOLDER).encode(), WIDE.encode())


async def quarantined_raw(gql: GraphQL, tenant: Tenant) -> dict[str, Any]:
    data = await gql(QUARANTINE, {"first": 10}, key=tenant.secret)
    [entry] = data["quarantine"]["nodes"]
    assert [(e["code"], e["path"]) for e in entry["errors"]] == [
        ("out_of_range", "attributes.serial")
    ], entry["errors"]
    return dict(entry)


async def assert_quarantined_beside_its_neighbour(
    gql: GraphQL, services: Services, tenant: Tenant, job_id: str
) -> None:
    job = await finished_job(gql, services, tenant, job_id)
    assert (job["counters"]["written"], job["counters"]["quarantined"]) == (1, 1), job
    [error] = job["errors"]["nodes"]
    assert (error["code"], error["path"]) == ("out_of_range", "records[1].attributes.serial")
    assert [r["externalId"] for r in await stored(gql, tenant)] == ["8072389001"]
    response = await gql.raw(QUARANTINE, {"first": 10}, key=tenant.secret)
    assert f'"serial":{WIDE}'.encode() in response.content  # the digits as sent, not 1.2e+29
    await quarantined_raw(gql, tenant)


async def test_graphql_variables(gql: GraphQL, services: Services, tenant: Tenant) -> None:
    body = b'{"query": %s, "variables": {"input": %s}}' % (
        orjson.dumps(ingest_mutation("product")),
        two_products_text(),
    )
    response = await gql.client.post(
        "/graphql", content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["ingestProducts"]
    assert payload["errors"] == []
    await assert_quarantined_beside_its_neighbour(gql, services, tenant, payload["job"]["id"])


async def test_graphql_literal_in_the_document(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    records = [shopify_product(1), shopify_product(2, attributes={"serial": 0})]
    literal = orjson.dumps(records).decode().replace('"serial":0', f"serial:{WIDE}")
    literal = _unquoted_keys(literal)
    query = (
        f"mutation {{ ingestProducts(input: {{records: {literal}}}) "
        "{ job { id } errors { code } } }"
    )
    data = await gql(query, key=tenant.secret)
    assert data["ingestProducts"]["errors"] == []
    await assert_quarantined_beside_its_neighbour(
        gql, services, tenant, data["ingestProducts"]["job"]["id"]
    )


def _unquoted_keys(json_text: str) -> str:
    """JSON object keys as GraphQL input-object field names (the keys here are identifiers)."""
    return re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)":', r"\1:", json_text)


@pytest.mark.parametrize("shape", ["json", "ndjson"])
async def test_rest(api: Any, gql: GraphQL, services: Services, tenant: Tenant, shape: str) -> None:
    body, media_type = two_products_text(), "application/json"
    if shape == "ndjson":
        records = orjson.loads(body.replace(WIDE.encode(), str(PLACEHOLDER).encode()))["records"]
        lines = b"".join(orjson.dumps(r) + b"\n" for r in records)
        body, media_type = lines.replace(str(PLACEHOLDER).encode(), WIDE.encode()), NDJSON
    response = await api.post(
        "/ingest/products", content=body, headers={**tenant.headers, "Content-Type": media_type}
    )
    assert response.status_code == 202, response.text
    await assert_quarantined_beside_its_neighbour(gql, services, tenant, response.json()["id"])


@pytest.mark.usefixtures(client_defaults.__name__)
async def test_a_native_record_keeps_the_digits_through_its_mapping(
    gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    shirt, sibling, _ = shopify_page()
    sibling["variants"][0]["inventory_quantity"] = PLACEHOLDER
    records = orjson.dumps([shirt, sibling]).replace(str(PLACEHOLDER).encode(), WIDE.encode())
    variables = b'{"input": {"platform": "SHOPIFY", "entity": "PRODUCT", "records": %s}}' % records
    body = b'{"query": %s, "variables": %s}' % (orjson.dumps(INGEST_RAW), variables)
    response = await gql.client.post(
        "/graphql", content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["ingestRaw"]["job"]["id"]
    await assert_native_quarantined(gql, services, tenant, job_id, position=1)


@pytest.mark.usefixtures(client_defaults.__name__)
async def test_a_webhook_delivery(
    api: Any, gql: GraphQL, services: Services, tenant: Tenant
) -> None:
    connection = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
    shirt = fixture("shopify_product_linen_shirt.json")
    shirt["variants"][0]["inventory_quantity"] = PLACEHOLDER
    body = orjson.dumps(shirt).replace(str(PLACEHOLDER).encode(), WIDE.encode())
    response = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert response.status_code == 202, response.text
    [job_id] = response.json()["job_ids"]
    await assert_native_quarantined(gql, services, tenant, job_id, position=0)


async def assert_native_quarantined(
    gql: GraphQL, services: Services, tenant: Tenant, job_id: str, position: int
) -> None:
    """The native record's first variant's quantity is refused at its path; the quarantine
    keeps the raw input's digits (the mapped attempt shows them rounded: app.db.engine)."""
    await drain(services)
    job = (await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"]
    errors = [(e["code"], e["path"]) for e in job["errors"]["nodes"]]
    path = f"records[{position}].variants[0].inventory_quantity"
    assert errors == [("out_of_range", path)], errors
    response = await gql.raw(QUARANTINE, {"first": 10}, key=tenant.secret)
    assert response.content.count(f'"inventory_quantity":{WIDE}'.encode()) == 1
