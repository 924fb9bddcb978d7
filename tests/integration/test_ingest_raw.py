"""A partner pushes records in a platform's own shape (ingestRaw); they are mapped to the standard
schema by the platform's rules, validated, stored, and the raw records stay staged."""

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import StagedRecord
from app.services import Services
from app.tenancy import service as tenancy
from tests.conftest import GraphQL, Tenant
from tests.helpers import JOB_FIELDS, personal_reader, shopify_product
from tests.integration.test_ingest_pipeline import finished_job, push, stored
from tests.unit.transform.conftest import fixture

INGEST_RAW = f"""mutation Raw($input: IngestRawInput!) {{
  ingestRaw(input: $input) {{
    job {{ sourcePlatform {JOB_FIELDS} }} replayed errors {{ code message path }}
  }}
}}"""


@pytest.fixture
async def client_defaults(services: Services, tenant: Tenant) -> None:
    """A client whose shop sells in EUR and whose national phone numbers are British."""
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, tenant.client_id, currency="EUR", region="GB")


async def push_raw(
    gql: GraphQL,
    tenant: Tenant,
    records: list[Any],
    platform: str = "SHOPIFY",
    entity: str = "PRODUCT",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    variables = {
        "input": {
            "platform": platform,
            "entity": entity,
            "records": records,
            "idempotencyKey": idempotency_key,
        }
    }
    data = await gql(INGEST_RAW, variables, key=tenant.secret)
    return dict(data["ingestRaw"])


def shopify_page() -> list[dict[str, Any]]:
    """A products.json page: the linen shirt, a sibling made from it, and the gift card."""
    shirt = fixture("shopify_product_linen_shirt.json")
    sibling = copy.deepcopy(shirt)
    sibling.update(id=8072389472999, title="Linen Shirt (long sleeve)", handle="linen-shirt-ls")
    for number, variant in enumerate(sibling["variants"]):
        variant.update(id=44012345679900 + number, sku=f"LS-002-{number}", price="64.00")
    sibling["variants"][0]["compare_at_price"] = "74.00"
    return [shirt, sibling, fixture("shopify_product_gift_card.json")]


async def test_a_shopify_products_page_lands_as_canonical_products(
    gql, services, tenant, client_defaults
):
    page = shopify_page()
    payload = await push_raw(gql, tenant, page)
    assert payload["errors"] == []
    assert payload["job"]["sourcePlatform"] == "SHOPIFY"
    assert payload["job"]["entity"] == "PRODUCT"

    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED", job["errors"]
    assert job["counters"]["written"] == 3
    records = {r["externalId"]: r for r in await stored(gql, tenant)}
    assert set(records) == {"8072389472001", "8072389472999", "8072389473555"}

    shirt = records["8072389472001"]
    assert shirt["sourcePlatform"] == "shopify"
    assert shirt["sourceUpdatedAt"] == "2026-11-01T10:00:00+00:00"
    data = shirt["data"]
    assert data["price"] == {"amount": "49.90", "currency": "EUR"}
    assert data["compare_at_price"] == {"amount": "59.90", "currency": "EUR"}
    assert [v["price"]["amount"] for v in data["variants"]] == ["49.90", "49.90", "54.00"]
    assert data["tags"] == ["summer", "Linen", "new-arrival"]
    assert data["description"].startswith("Breathable European linen, garment-dyed")
    assert "<" not in data["description"] and "dataLayer" not in data["description"]
    assert len(data["images"]) == 3 and data["images"][0]["position"] == 0
    assert data["sku"] == "LS-001-S-WHT"
    assert records["8072389472999"]["data"]["price"]["amount"] == "64.00"
    assert records["8072389473555"]["data"]["name"]

    # The raw records stay staged exactly as sent.
    async with services.sessions() as session:
        staged = await session.scalars(
            select(StagedRecord.payload)
            .where(StagedRecord.job_id == job["id"])
            .order_by(StagedRecord.position)
        )
        assert [json.loads(p) for p in staged] == page


async def test_hubspot_contacts_land_as_audience(gql, services, tenant, client_defaults):
    contacts = fixture("hubspot_contacts.json")["results"]
    payload = await push_raw(gql, tenant, contacts, platform="HUBSPOT", entity="AUDIENCE")
    assert payload["errors"] == []
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED", job["errors"]
    reader = await personal_reader(services, tenant)  # personal fields unmasked
    records = {r["externalId"]: r for r in await stored(gql, reader, entity="AUDIENCE")}
    assert set(records) == {c["id"] for c in contacts}
    ana = records["51"]
    assert ana["sourcePlatform"] == "hubspot"
    assert ana["data"]["email"] == "ana.silva@example.com"
    assert ana["data"]["phone"] == "+442079460018"
    assert ana["data"]["country"] == "GB"
    assert records["1051"]["data"]["phone"] == "+4915123456789"
    assert records["2203"]["data"]["email"] == "info@nordlicht.de"


async def test_a_bad_native_price_quarantines_only_that_record_with_the_native_path(
    gql, services, tenant, client_defaults
):
    page = shopify_page()
    page[2]["variants"][0]["price"] = "twenty-five"
    job = await finished_job(
        gql, services, tenant, (await push_raw(gql, tenant, page))["job"]["id"]
    )
    assert job["status"] == "PARTIALLY_SUCCEEDED"
    assert job["counters"]["valid"] == 2
    assert job["counters"]["quarantined"] == 1
    errors = job["errors"]["nodes"]
    assert {e["index"] for e in errors} == {2}
    assert {e["path"] for e in errors} == {"records[2].variants[0].price"}
    assert all(e["externalId"] == "8072389473555" for e in errors)
    assert any("twenty-five" in e["message"] or "price" in e["message"] for e in errors)
    assert {r["externalId"] for r in await stored(gql, tenant)} == {
        "8072389472001",
        "8072389472999",
    }


async def test_without_a_client_currency_shopify_prices_are_not_guessed(gql, services, tenant):
    [shirt] = shopify_page()[:1]
    job = await finished_job(
        gql, services, tenant, (await push_raw(gql, tenant, [shirt]))["job"]["id"]
    )
    assert job["status"] == "FAILED"
    paths = {(e["code"], e["path"]) for e in job["errors"]["nodes"]}
    assert ("invalid_currency", "records[0].variants[0].price") in paths
    assert await stored(gql, tenant) == []


async def test_an_unsupported_platform_and_entity_is_a_payload_error(gql, services, tenant):
    record = {"Id": "0685g000001VersAAA", "Title": "Lookbook"}
    payload = await push_raw(gql, tenant, [record], platform="SALESFORCE", entity="ASSET")
    assert payload["job"] is None
    [error] = payload["errors"]
    assert error["code"] == "unsupported_mapping"
    assert error["path"] == "platform"
    assert "salesforce asset" in error["message"]
    assert "hubspot audience" in error["message"] and "shopify product" in error["message"]

    custom = await push_raw(gql, tenant, [record], platform="CUSTOM", entity="PRODUCT")
    assert custom["errors"][0]["code"] == "unsupported_mapping"

    wrong_entity = await push_raw(gql, tenant, shopify_page(), entity="CAMPAIGN")
    assert wrong_entity["errors"][0]["code"] == "unsupported_mapping"


async def test_idempotency_replay_and_conflict(gql, services, tenant, client_defaults):
    page = shopify_page()
    first = await push_raw(gql, tenant, page, idempotency_key="shop-page-1")
    again = await push_raw(gql, tenant, page, idempotency_key="shop-page-1")
    assert again["replayed"] is True
    assert again["job"]["id"] == first["job"]["id"]
    assert again["job"]["sourcePlatform"] == "SHOPIFY"

    # The same records as a standard ingest are a different request: the platform is hashed.
    standard = await push(gql, tenant, page, idempotency_key="shop-page-1")
    assert standard["job"] is None
    assert standard["errors"][0]["code"] == "idempotency_conflict"
    await finished_job(gql, services, tenant, first["job"]["id"])


async def test_standard_ingests_are_unaffected(gql, services, tenant, client_defaults):
    products = [shopify_product(n) for n in range(2)]
    payload = await push(gql, tenant, products)
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED"
    query = "query Job($id: ID!) { job(id: $id) { sourcePlatform } }"
    data = await gql(query, {"id": job["id"]}, key=tenant.secret)
    assert data["job"]["sourcePlatform"] is None
    [record, _] = await stored(gql, tenant)
    assert record["data"]["price"] == {"amount": "49.90", "currency": "EUR"}
