"""A client maps its own custom fields (setFieldMapping): the overrides are checked against the rule
schema and the standard fields, versioned, shown in viewer, and every raw door maps with them."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.mappings_override import service as field_mappings
from app.services import Services
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode, Scope
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import GraphQL, Tenant
from tests.helpers import drain
from tests.integration.test_ingest_pipeline import finished_job, stored
from tests.integration.test_ingest_raw import push_raw, shopify_page
from tests.integration.test_webhooks import SHOPIFY_SECRET, connect, path_of, shopify_headers

FIXTURES = Path(__file__).parents[1] / "fixtures" / "platforms"

SET_MAPPING = """mutation Set($input: SetFieldMappingInput!) {
  setFieldMapping(input: $input) {
    fieldMapping { platform entity version rules updatedAt } errors { code message path }
  }
}"""
VIEWER = "{ viewer { fieldMappings { platform entity version rules } } }"
JOB_VERSION = "query J($id: ID!) { job(id: $id) { mappingVersion status } }"

DEAL_NAME = {"target": "name", "source": "properties.deal_name", "transform": "text"}
MATERIAL = {
    "target": "attributes.material",
    "source": "metafields",
    "transform": "metafield",
    "args": {"namespace": "custom", "key": "material"},
}


@pytest.fixture
async def euro_shop(services: Services, tenant: Tenant) -> None:
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, tenant.client_id, currency="EUR", region="GB")


def platform_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def hubspot_products() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = platform_fixture("hubspot/products.json")["results"]
    products[0]["properties"]["deal_name"] = "Maintenance — Gold tier"
    return products


async def set_mapping(
    gql: GraphQL,
    tenant: Tenant,
    rules: list[Any],
    platform: str = "HUBSPOT",
    entity: str = "PRODUCT",
) -> dict[str, Any]:
    variables = {"input": {"platform": platform, "entity": entity, "rules": rules}}
    return dict((await gql(SET_MAPPING, variables, key=tenant.secret))["setFieldMapping"])


async def mapping_version(gql: GraphQL, tenant: Tenant, job_id: str) -> int | None:
    job = (await gql(JOB_VERSION, {"id": job_id}, key=tenant.secret))["job"]
    version: int | None = job["mappingVersion"]
    return version


async def test_a_custom_hubspot_property_becomes_the_name(gql, services, tenant, euro_shop):
    rule = {**DEAL_NAME, "source": ["properties.deal_name", "properties.name"]}
    answer = await set_mapping(gql, tenant, [rule])
    assert answer["errors"] == []
    assert answer["fieldMapping"]["version"] == 1
    assert answer["fieldMapping"]["rules"] == [rule]

    payload = await push_raw(gql, tenant, hubspot_products(), platform="HUBSPOT")
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED", job["errors"]
    assert await mapping_version(gql, tenant, job["id"]) == 1
    names = {r["externalId"]: r["data"]["name"] for r in await stored(gql, tenant)}
    assert names == {"1642736": "Maintenance — Gold tier", "1642799": "Legacy Starter Kit"}


async def test_a_record_without_the_overridden_source_is_quarantined_not_guessed(
    gql, services, tenant, euro_shop
):
    await set_mapping(gql, tenant, [{**DEAL_NAME, "required": True}])
    payload = await push_raw(gql, tenant, hubspot_products(), platform="HUBSPOT")
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["counters"]["written"] == 1 and job["counters"]["quarantined"] == 1
    errors = job["errors"]["nodes"]
    assert {(e["index"], e["code"], e["path"]) for e in errors} == {
        (1, "missing_source", "records[1].properties.deal_name")
    }


async def test_a_fallback_override_fills_only_what_the_platform_rules_leave_unset(
    gql, services, tenant, euro_shop
):
    products = hubspot_products()
    products[1]["properties"]["deal_name"] = "Starter (legacy)"
    products[1]["properties"]["hs_sku"] = None
    rules = [{"target": "sku", "source": "properties.deal_name", "fallback": True}]
    assert (await set_mapping(gql, tenant, rules))["errors"] == []
    job = await finished_job(
        gql,
        services,
        tenant,
        (await push_raw(gql, tenant, products, platform="HUBSPOT"))["job"]["id"],
    )
    assert job["status"] == "SUCCEEDED", job["errors"]
    skus = {r["externalId"]: r["data"].get("sku") for r in await stored(gql, tenant)}
    assert skus == {"1642736": "SVC-MAINT-12", "1642799": "Starter (legacy)"}


async def test_a_shopify_metafield_lands_in_attributes(gql, services, tenant, euro_shop):
    page = shopify_page()
    page[0]["metafields"] = [
        {"namespace": "seo", "key": "material", "value": "not this one"},
        {"namespace": "custom", "key": "material", "value": " Linen (100%) "},
    ]
    assert (await set_mapping(gql, tenant, [MATERIAL], platform="SHOPIFY"))["errors"] == []
    job = await finished_job(
        gql, services, tenant, (await push_raw(gql, tenant, page))["job"]["id"]
    )
    assert job["status"] == "SUCCEEDED", job["errors"]
    records = {r["externalId"]: r["data"] for r in await stored(gql, tenant)}
    assert records["8072389472001"]["attributes"]["material"] == "Linen (100%)"
    assert records["8072389472001"]["attributes"]["handle"] == "linen-shirt"  # file rules kept
    assert "material" not in records["8072389472999"].get("attributes", {})


async def test_overrides_also_apply_to_shopify_graphql_shaped_products(
    gql, services, tenant, euro_shop
):
    node = platform_fixture("shopify/products-graphql.json")["data"]["products"]["edges"][0]["node"]
    node["metafields"] = {"nodes": [{"namespace": "custom", "key": "material", "value": "Linen"}]}
    await set_mapping(gql, tenant, [MATERIAL], platform="SHOPIFY")
    job = await finished_job(
        gql, services, tenant, (await push_raw(gql, tenant, [node]))["job"]["id"]
    )
    assert job["status"] == "SUCCEEDED", job["errors"]
    [record] = await stored(gql, tenant)
    assert record["externalId"] == "8072389472001"  # mapped by the GraphQL shape's rules
    assert record["data"]["attributes"]["material"] == "Linen"


async def test_the_rest_door_maps_with_the_clients_overrides(gql, api, services, tenant, euro_shop):
    await set_mapping(gql, tenant, [MATERIAL], platform="SHOPIFY")
    native = copy.deepcopy(shopify_page()[0])
    native["metafields"] = [{"namespace": "custom", "key": "material", "value": "Hemp"}]
    response = await api.post(
        "/ingest/products?platform=shopify",
        json={"records": [native]},
        headers=tenant.headers,
    )
    assert response.status_code == 202, response.text
    await drain(services)
    job_id = response.json()["id"]
    assert await mapping_version(gql, tenant, job_id) == 1
    [record] = await stored(gql, tenant)
    assert record["data"]["attributes"]["material"] == "Hemp"


async def test_a_shopify_webhook_is_mapped_with_the_clients_overrides(
    api, gql, services, tenant, euro_shop
):
    await set_mapping(gql, tenant, [MATERIAL], platform="SHOPIFY")
    connection = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
    native = shopify_page()[0]
    native["metafields"] = [{"namespace": "custom", "key": "material", "value": "Ramie"}]
    body = json.dumps(native).encode()
    response = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert response.status_code == 202, response.text
    [job_id] = response.json()["job_ids"]
    await drain(services)
    assert await mapping_version(gql, tenant, job_id) == 1
    [record] = await stored(gql, tenant)
    assert record["data"]["attributes"]["material"] == "Ramie"


@pytest.mark.parametrize(
    ("rule", "path", "fragment"),
    [
        ({**DEAL_NAME, "transform": "titlecase"}, "rules[0].transform", "unknown transform"),
        ({**DEAL_NAME, "target": "title"}, "rules[0].target", "has no field 'title'"),
        ({**DEAL_NAME, "target": "price.amount.value"}, "rules[0].target", "no sub-fields"),
        ({**DEAL_NAME, "source": "properties..deal"}, "rules[0].source", "properties..deal"),
        ({**MATERIAL, "args": {"key": ""}}, "rules[0].args", "bad args for metafield"),
        ({**DEAL_NAME, "target": "source_platform"}, "rules[0].target", "file name"),
        ({"source": "properties.deal_name"}, "rules[0].target", "Field required"),
        ({**DEAL_NAME, "sorce": "x"}, "rules[0].sorce", "Extra inputs"),
        ({**DEAL_NAME, "fallback": True, "target": "attributes.x"}, "rules[0].fallback", "nothing"),
    ],
)
async def test_a_bad_override_is_refused_with_the_rule_field_at_fault(
    gql, tenant, rule, path, fragment
):
    answer = await set_mapping(gql, tenant, [DEAL_NAME, rule])
    assert answer["fieldMapping"] is None
    wanted = path.replace("rules[0]", "rules[1]")
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("invalid_mapping", wanted)]
    assert fragment in answer["errors"][0]["message"]
    assert (await gql(VIEWER, key=tenant.secret))["viewer"]["fieldMappings"] == []


async def test_the_same_target_twice_and_an_unmapped_platform_are_refused(gql, tenant):
    answer = await set_mapping(gql, tenant, [DEAL_NAME, {**DEAL_NAME, "source": "properties.x"}])
    assert [e["path"] for e in answer["errors"]] == ["rules[1].target"]
    answer = await set_mapping(gql, tenant, [DEAL_NAME], platform="CUSTOM")
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [
        ("unsupported_mapping", "platform")
    ]


async def test_each_change_is_a_version_and_a_job_keeps_the_version_it_started_with(
    gql, services, tenant, euro_shop
):
    await set_mapping(gql, tenant, [DEAL_NAME])
    first = await finished_job(
        gql,
        services,
        tenant,
        (await push_raw(gql, tenant, hubspot_products(), platform="HUBSPOT"))["job"]["id"],
    )
    assert (await set_mapping(gql, tenant, []))["fieldMapping"]["version"] == 2
    products = hubspot_products()
    for product in products:
        product["updatedAt"] = "2026-11-02T10:00:00Z"
    second = await finished_job(
        gql,
        services,
        tenant,
        (await push_raw(gql, tenant, products, platform="HUBSPOT"))["job"]["id"],
    )
    assert await mapping_version(gql, tenant, first["id"]) == 1
    assert await mapping_version(gql, tenant, second["id"]) == 2
    [record] = await stored(gql, tenant, ["1642736"])
    assert record["data"]["name"] == "Maintenance Plan (12 months)"  # back to the file's rule

    viewer = (await gql(VIEWER, key=tenant.secret))["viewer"]
    assert viewer["fieldMappings"] == [
        {"platform": "HUBSPOT", "entity": "PRODUCT", "version": 2, "rules": []}
    ]


async def test_standard_jobs_have_no_mapping_version_and_raw_ones_without_overrides_have_0(
    gql, services, tenant, euro_shop
):
    payload = await push_raw(gql, tenant, hubspot_products(), platform="HUBSPOT")
    await finished_job(gql, services, tenant, payload["job"]["id"])
    assert await mapping_version(gql, tenant, payload["job"]["id"]) == 0


async def test_overrides_are_per_client_and_per_mode(gql, services, tenant, euro_shop):
    await set_mapping(gql, tenant, [DEAL_NAME])
    async with services.sessions() as session, session.begin():
        live = await tenancy.create_key(session, tenant.client_id, KeyMode.LIVE)
    viewer = (await gql(VIEWER, key=live.secret))["viewer"]
    assert viewer["fieldMappings"] == []


async def test_setting_a_mapping_needs_the_admin_scope(gql, services, tenant):
    async with services.sessions() as session, session.begin():
        reader = await tenancy.create_key(
            session, tenant.client_id, KeyMode.TEST, scopes=[Scope.READ.value]
        )
    variables = {"input": {"platform": "HUBSPOT", "entity": "PRODUCT", "rules": [DEAL_NAME]}}
    response = await gql.raw(SET_MAPPING, variables, key=reader.secret)
    assert "insufficient_scope" in response.text


async def test_the_laid_over_rules_are_built_once_per_version(services, tenant):
    scope = TenantScope(tenant.client_id, livemode=False)
    async with services.sessions() as session, session.begin():
        await field_mappings.set_field_mapping(
            session, scope, SourcePlatform.HUBSPOT, Entity.PRODUCT, [DEAL_NAME], None
        )
    async with services.sessions() as session:
        one, version = await field_mappings.mapping_for_job(
            session, scope, SourcePlatform.HUBSPOT, Entity.PRODUCT, None
        )
        two, _ = await field_mappings.mapping_for_job(
            session, scope, SourcePlatform.HUBSPOT, Entity.PRODUCT, 1
        )
    assert version == 1 and one is two
    assert [rule.target.text for rule in one.rules].count("name") == 1
