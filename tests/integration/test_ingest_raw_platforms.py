"""Every platform page with a mapping goes through ingestRaw (GraphQL) and ends as the canonical
records its golden file promises, on both backends."""

import copy

import orjson
import pytest

from app.records.validation import validate_record
from app.services import Services
from app.tenancy import service as tenancy
from tests.conftest import GraphQL, Tenant
from tests.fixtures.platforms import PAGES, Page
from tests.helpers import personal_reader
from tests.integration.test_ingest_pipeline import finished_job, stored
from tests.integration.test_ingest_raw import push_raw


@pytest.fixture
async def berlin_client(services: Services, tenant: Tenant) -> None:
    """The client the goldens were made for: EUR prices, Berlin time, German phone numbers."""
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(
            session, tenant.client_id, currency="EUR", region="DE", timezone="Europe/Berlin"
        )


# Variations read on their own update their parent's variants (tests/integration/
# test_variation_updates.py): they are not stored as records of their own.
WHOLE_RECORD_PAGES = [page for page in PAGES if page.name != "woocommerce/variations"]


@pytest.mark.parametrize("page", WHOLE_RECORD_PAGES, ids=lambda page: page.name)
async def test_a_platform_page_lands_as_its_golden_records(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None, page: Page
) -> None:
    platform, entity = page.platform.value.upper(), page.entity.value.upper()
    payload = await push_raw(gql, tenant, page.records(), platform=platform, entity=entity)
    assert payload["errors"] == []
    assert payload["job"]["sourcePlatform"] == platform

    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED", job["errors"]
    goldens = [golden["data"] for golden in page.expected()]
    assert job["counters"]["written"] == len(goldens)
    reader = await personal_reader(services, tenant)  # audience records answer unmasked
    records = {r["externalId"]: r for r in await stored(gql, reader, entity=entity)}
    for golden in goldens:
        canonical = validate_record(page.entity, orjson.dumps(golden))
        assert not isinstance(canonical, list)
        record = records[golden["external_id"]]
        assert record["sourcePlatform"] == page.platform.value
        assert record["data"] == canonical.data


async def test_a_bad_woocommerce_price_quarantines_that_product_only(
    gql: GraphQL, services: Services, tenant: Tenant, berlin_client: None
) -> None:
    page = next(p for p in PAGES if p.name == "woocommerce/products")
    products = copy.deepcopy(page.records())
    products[0]["sale_price"] = {"amount": "39.90"}
    payload = await push_raw(gql, tenant, products, platform="WOOCOMMERCE", entity="PRODUCT")
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "PARTIALLY_SUCCEEDED"
    assert (job["counters"]["valid"], job["counters"]["quarantined"]) == (1, 1)
    [error] = job["errors"]["nodes"]
    assert (error["code"], error["path"], error["externalId"]) == (
        "invalid_amount",
        "records[0].sale_price",
        "794",
    )
    assert "sale_price → price" in error["message"]
    assert [r["externalId"] for r in await stored(gql, tenant)] == ["812"]
