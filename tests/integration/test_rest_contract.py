"""One contract, two doors: REST (`POST /ingest/{entity}`, `?platform=` for native shapes) and
GraphQL (`ingest*`, `ingestRaw`) make identical jobs from identical records, and reject the same
requests with the same codes."""

import copy
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import IngestJob, StagedRecord
from app.services import Services
from app.tenancy import service as tenancy
from tests.conftest import GraphQL, Tenant, create_tenant
from tests.helpers import JOB_QUERY, drain, ingest_mutation, shopify_product
from tests.integration.test_ingest_pipeline import stored
from tests.integration.test_ingest_raw import INGEST_RAW, shopify_page
from tests.unit.transform.conftest import fixture

PATHS = {"PRODUCT": "products", "AUDIENCE": "audience"}


def _standard_products() -> list[Any]:
    return [
        shopify_product(1),
        shopify_product(2, price={"amount": 49.9, "currency": "EUR"}),
        shopify_product(3, name=""),
        42,
    ]


def _raw_products() -> list[Any]:
    page = shopify_page()
    broken = copy.deepcopy(page[0])
    broken.update(id=8072389479000, title="")
    return [*page, broken]


def _raw_contacts() -> list[Any]:
    return list(fixture("hubspot_contacts.json")["results"])


CASES = {
    "standard": (None, "PRODUCT", _standard_products),
    "shopify_products": ("SHOPIFY", "PRODUCT", _raw_products),
    "hubspot_contacts": ("HUBSPOT", "AUDIENCE", _raw_contacts),
}


async def _tenant_with_defaults(services: Services, name: str) -> Tenant:
    tenant = await create_tenant(services, name)
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, tenant.client_id, currency="EUR", region="GB")
    return tenant


async def _push_graphql(
    gql: GraphQL, tenant: Tenant, platform: str | None, entity: str, records: list[Any]
) -> str:
    if platform is None:
        data = await gql(
            ingest_mutation(entity.lower()), {"input": {"records": records}}, key=tenant.secret
        )
        payload = next(iter(data.values()))
    else:
        variables = {"input": {"platform": platform, "entity": entity, "records": records}}
        payload = (await gql(INGEST_RAW, variables, key=tenant.secret))["ingestRaw"]
    assert payload["errors"] == []
    return str(payload["job"]["id"])


async def _staged(services: Services, job_id: str) -> list[tuple[int, str]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(StagedRecord.position, StagedRecord.payload)
            .where(StagedRecord.job_id == job_id)
            .order_by(StagedRecord.position)
        )
        return [(row.position, row.payload) for row in rows]


async def _job_row(services: Services, job_id: str) -> IngestJob:
    async with services.sessions() as session:
        job = await session.get(IngestJob, job_id)
        assert job is not None
        return job


@pytest.mark.parametrize("case", list(CASES))
async def test_rest_and_graphql_make_identical_jobs_from_identical_records(
    api, gql, services, case
):
    platform, entity, make_records = CASES[case]
    records = make_records()
    by_rest = await _tenant_with_defaults(services, "Rest")
    by_graphql = await _tenant_with_defaults(services, "Gql")
    query = f"?platform={platform.lower()}" if platform else ""
    rest = await api.post(
        f"/ingest/{PATHS[entity]}{query}", json={"records": records}, headers=by_rest.headers
    )
    assert rest.status_code == 202, rest.text
    rest_id = rest.json()["id"]
    gql_id = await _push_graphql(gql, by_graphql, platform, entity, records)
    await drain(services)

    rest_row, gql_row = await _job_row(services, rest_id), await _job_row(services, gql_id)
    assert (rest_row.door, gql_row.door) == ("rest", "graphql")
    assert rest_row.source_platform == gql_row.source_platform == (platform and platform.lower())
    assert rest_row.request_hash == gql_row.request_hash
    assert await _staged(services, rest_id) == await _staged(services, gql_id)

    rest_job = (await api.get(f"/jobs/{rest_id}", headers=by_rest.headers)).json()
    gql_job = (await gql(JOB_QUERY, {"id": gql_id}, key=by_graphql.secret))["job"]
    assert rest_job["counters"] == gql_job["counters"]
    assert rest_job["counters"]["received"] == len(records)
    assert rest_job["counters"]["valid"] > 0
    assert rest_job["status"] == gql_job["status"]
    assert [
        (e["index"], e["external_id"], e["code"], e["message"], e["path"])
        for e in rest_job["errors"]
    ] == [
        (e["index"], e["externalId"], e["code"], e["message"], e["path"])
        for e in gql_job["errors"]["nodes"]
    ]
    if case != "hubspot_contacts":
        assert rest_job["counters"]["quarantined"] > 0

    def comparable(nodes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((n["externalId"], n["sourcePlatform"], str(n["data"])) for n in nodes)

    rest_stored = await stored(gql, by_rest, entity=entity)
    assert rest_stored
    assert comparable(rest_stored) == comparable(await stored(gql, by_graphql, entity=entity))


@pytest.mark.parametrize(
    ("path", "platform", "entity"),
    [
        ("assets", "woocommerce", "ASSET"),
        ("assets", "shopify", "ASSET"),
        ("audience", "custom", "AUDIENCE"),
    ],
)
async def test_an_unsupported_pair_is_the_same_error_on_both_doors(
    api, gql, services, tenant, path, platform, entity
):
    rest = await api.post(
        f"/ingest/{path}?platform={platform}", json={"records": [{"id": 1}]}, headers=tenant.headers
    )
    variables = {"input": {"platform": platform.upper(), "entity": entity, "records": [{"id": 1}]}}
    payload = (await gql(INGEST_RAW, variables, key=tenant.secret))["ingestRaw"]
    assert rest.status_code == 400
    error = rest.json()["error"]
    assert payload["job"] is None
    [graphql_error] = payload["errors"]
    assert error["code"] == graphql_error["code"] == "unsupported_mapping"
    assert error["message"] == graphql_error["message"]
    assert error["param"] == graphql_error["path"] == "platform"
    assert "hubspot audience" in error["message"] and "shopify product" in error["message"]
    assert (await api.get("/jobs", headers=tenant.headers)).json()["data"] == []
