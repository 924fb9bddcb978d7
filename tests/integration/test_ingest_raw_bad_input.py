"""The issue's "bad input" list through ingestRaw, each next to a valid neighbour: the bad record
ends quarantined with a precise error (code and standard path), the neighbour is written, and
nothing answers 500. Input the request itself cannot carry is a clear request error."""

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from app.services import Services
from tests.conftest import GraphQL, Tenant
from tests.fixtures.platforms import PAGES
from tests.integration.test_ingest_pipeline import finished_job, stored
from tests.integration.test_ingest_raw import INGEST_RAW, push_raw
from tests.integration.test_ingest_raw_platforms import berlin_client  # noqa: F401
from tests.integration.test_quarantine import listing

WOO = next(p for p in PAGES if p.name == "woocommerce/products")
MB = 1024 * 1024
Break = Callable[[dict[str, Any]], None]


def _set(**fields: Any) -> Break:
    return lambda record: record.update(fields)


# What is done to the first WooCommerce product → the (code, standard path) it is held with.
CASES: list[tuple[str, Break, tuple[str, str]]] = [
    ("price as object", _set(sale_price={"amount": "39.90"}), ("invalid_amount", "sale_price")),
    ("tags as number", _set(tags=5), ("invalid_type", "tags")),
    ("negative price", _set(sale_price="-39.90"), ("out_of_range", "price")),
    ("absurd price", _set(sale_price="1e30"), ("invalid_amount", "sale_price")),
    (
        "year 9999",
        _set(date_modified_gmt="9999-01-01T00:00:00"),
        ("invalid_date", "date_modified_gmt"),
    ),
    ("name missing", _set(name=None), ("missing_source", "name")),
    (
        "1 MB description",
        _set(description="<p>" + "linen " * (MB // 6) + "</p>"),
        ("invalid_length", "description"),
    ),
]


def _products(break_first: Break) -> list[dict[str, Any]]:
    products = copy.deepcopy(WOO.records())
    break_first(products[0])
    return products


@pytest.mark.parametrize(("name", "break_first", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_a_bad_native_product_is_held_and_its_neighbour_written(
    gql: GraphQL,
    services: Services,
    tenant: Tenant,
    berlin_client: None,  # noqa: F811
    name: str,
    break_first: Break,
    expected: tuple[str, str],
) -> None:
    products = _products(break_first)
    payload = await push_raw(gql, tenant, products, platform="WOOCOMMERCE", entity="PRODUCT")
    assert payload["errors"] == []
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "PARTIALLY_SUCCEEDED", job
    assert (job["counters"]["written"], job["counters"]["quarantined"]) == (1, 1)
    [entry] = await listing(gql, tenant)
    assert entry["externalId"] == "794" and entry["platform"] == "WOOCOMMERCE"
    assert (entry["errors"][0]["code"], entry["errors"][0]["path"]) == expected, entry["errors"]
    assert [r["externalId"] for r in await stored(gql, tenant)] == ["812"]


async def test_script_and_html_in_a_native_description_are_stored_as_plain_text(
    gql: GraphQL,
    services: Services,
    tenant: Tenant,
    berlin_client: None,  # noqa: F811
) -> None:
    products = _products(
        _set(description="<p>Soft</p><script>document.cookie</script><p>linen</p>")
    )
    payload = await push_raw(gql, tenant, products, platform="WOOCOMMERCE", entity="PRODUCT")
    job = await finished_job(gql, services, tenant, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED", job["errors"]
    shirt = {r["externalId"]: r["data"] for r in await stored(gql, tenant)}["794"]
    assert shirt["description"] == "Soft\n\nlinen"


async def test_an_invalid_unicode_escape_in_native_json_is_a_request_error_not_a_500(
    api: Any, tenant: Tenant
) -> None:
    """A lone surrogate (\\ud800) is JSON syntax but no text: the request cannot be read as
    records, so it is refused whole with a reason, and nothing is staged."""
    products = _products(_set(name="@@LONE@@"))
    body = orjson.dumps(
        {
            "query": INGEST_RAW,
            "variables": {
                "input": {"platform": "WOOCOMMERCE", "entity": "PRODUCT", "records": products}
            },
        }
    ).replace(b"@@LONE@@", b"Shirt \\ud800")
    response = await api.post(
        "/graphql",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request", "bad_request")
    assert "surrogate" in error["message"]
    jobs = await api.post(
        "/graphql", json={"query": "{ jobs(first: 5) { nodes { id } } }"}, headers=tenant.headers
    )
    assert jobs.json()["data"]["jobs"]["nodes"] == []


async def test_an_invalid_unicode_escape_through_rest_is_a_request_error_too(
    api: Any, tenant: Tenant
) -> None:
    products = _products(_set(name="@@LONE@@"))
    body = orjson.dumps({"records": products}).replace(b"@@LONE@@", b"Shirt \\udfff")
    response = await api.post(
        "/ingest/products?platform=woocommerce",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "surrogate" in response.json()["error"]["message"]
