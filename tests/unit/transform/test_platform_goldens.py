"""Every platform page under tests/fixtures/platforms maps to its golden standard records exactly,
and every golden record passes the standard schema."""

import copy
from typing import Any

import orjson
import pytest

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.records.validation import validate_record
from tests.fixtures.platforms import PAGES, Page, mapped
from tests.unit.transform.conftest import fixture


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_each_page_maps_to_its_golden_records(page: Page) -> None:
    assert mapped(page) == page.expected()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_golden_records_pass_the_contract(page: Page) -> None:
    for golden in page.expected():
        assert golden["errors"] == [], "golden pages hold clean records only"
        result = validate_record(page.entity, orjson.dumps(golden["data"]))
        assert not isinstance(result, list), result
        assert result.external_id == golden["data"]["external_id"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_mapping_leaves_the_native_records_as_they_were(page: Page) -> None:
    records = page.records()
    before = copy.deepcopy(records)
    mapper = page.mapper()
    for record in records:
        mapper.map(record)
    assert records == before


def _without_positions(product: dict[str, Any]) -> dict[str, Any]:
    images = [{k: v for k, v in image.items() if k != "position"} for image in product["images"]]
    return product | {"images": images, "tags": sorted(product["tags"])}


def test_a_graphql_product_is_the_same_record_as_its_rest_twin() -> None:
    """GIDs become the REST ids, so both shapes of one product land on one stored record.
    (GraphQL images carry no position and tags come sorted.)"""
    page = next(p for p in PAGES if p.name == "shopify/products-graphql")
    [graphql, _] = mapped(page)
    rest, errors = page.mapper().map(fixture("shopify_product_linen_shirt.json"))
    assert errors == []
    assert _without_positions(graphql["data"]) == _without_positions(rest)


def test_shapes_are_told_apart_per_record() -> None:
    """A Salesforce page may hold Contacts and Leads; a Shopify batch REST and GraphQL products."""
    contacts = next(p for p in PAGES if p.name == "salesforce/contact-query")
    leads = next(p for p in PAGES if p.name == "salesforce/lead-query")
    mapper = contacts.mapper()
    mixed = [*contacts.records(), *leads.records()]
    stages = [mapper.map(record)[0].get("lifecycle_stage") for record in mixed]
    assert stages == [None, None, "lead"]
    assert mapper.rules.platform is SourcePlatform.SALESFORCE
    assert mapper.rules.entity is Entity.AUDIENCE
