"""The published OpenAPI document is a valid OpenAPI 3.1 document, is what the server serves, and
documents every REST operation completely: auth, every error in the one shape, examples."""

import json

import httpx
import pytest
from litestar import Litestar, get
from openapi_spec_validator import validate

from app.api.rest.openapi import openapi_config, openapi_document
from app.asgi import create_app
from app.settings import ROOT_DIR
from tests.conftest import make_settings

PUBLISHED = ROOT_DIR / "contracts" / "openapi.json"
KEYED = {"400", "401", "403", "429"}  # a key: its errors, scope, named client, rate limit
OPERATIONS = {
    ("/ingest/products", "post"): {"202", "200", "409", "413", "415"} | KEYED,
    ("/ingest/assets", "post"): {"202", "200", "409", "413", "415"} | KEYED,
    ("/ingest/campaigns", "post"): {"202", "200", "409", "413", "415"} | KEYED,
    ("/ingest/audience", "post"): {"202", "200", "409", "413", "415"} | KEYED,
    ("/ingest/{entity}/archive", "post"): {"200", "404"} | KEYED,  # archival: answered at once
    ("/jobs", "get"): {"200"} | KEYED,
    ("/jobs/{id}", "get"): {"200", "404"} | KEYED,
    ("/jobs/{id}/errors", "get"): {"200", "404"} | KEYED,
    ("/contracts/{name}", "get"): {"200", "404"},
    ("/webhooks/{source}/{connection_id}", "post"): {
        "202",
        "200",
        "400",
        "401",
        "404",
        "413",
        "429",
    },
}
UNKEYED = {"/contracts/{name}", "/webhooks/{source}/{connection_id}"}  # no API key involved


@pytest.fixture(scope="module")
def published():
    return json.loads(PUBLISHED.read_text(encoding="utf-8"))


def test_the_published_document_is_valid_openapi(published):
    validate(published)
    assert published["openapi"].startswith("3.1")
    assert published["info"]["title"] == "Smart Gateway"
    assert published["info"]["version"] == "1.0.0"


async def test_the_server_serves_the_published_document(tmp_path, published):
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert openapi_document(response.json()) == published


def test_exactly_the_rest_operations_are_documented(published):
    documented = {(path, method) for path, item in published["paths"].items() for method in item}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("path", "method"), sorted(OPERATIONS))
def test_each_operation_is_documented_completely(published, path, method):
    operation = published["paths"][path][method]
    assert operation["operationId"]
    assert operation["summary"]
    assert set(operation["responses"]) == OPERATIONS[(path, method)]
    for status, response in operation["responses"].items():
        assert response["description"]
        assert "X-Request-ID" in response["headers"]
        if status.startswith("4"):
            [media] = response["content"].values()
            assert media["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
            assert media["examples"], f"{method} {path} {status} has no example"
            for example in media["examples"].values():
                assert set(example["value"]["error"]) >= {"type", "code", "message", "param"}
    if path in UNKEYED:
        assert operation["security"] == [{}]
    else:
        assert operation["security"] == [{"apiKey": []}]
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        accepted = method == "post" and "202" in OPERATIONS[(path, method)]
        success = operation["responses"]["202" if accepted else "200"]
        assert success["content"]["application/json"]["examples"]


@pytest.mark.parametrize("entity", ["product", "asset", "campaign", "audience"])
def test_ingest_bodies_point_at_the_entity_contract(published, entity):
    segment = {"product": "products", "audience": "audience"}.get(entity, f"{entity}s")
    body = published["paths"][f"/ingest/{segment}"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert schema["required"] == ["records"]
    records = schema["properties"]["records"]
    assert records["type"] == "array"
    assert "type" not in records["items"]  # any value: a non-object is that record's error
    assert "invalid_type" in records["items"]["description"]
    assert f"/contracts/{entity}.schema.json" in records["description"]
    assert schema["examples"][0]["records"][0]["external_id"]
    headers = {p["name"] for p in published["paths"][f"/ingest/{segment}"]["post"]["parameters"]}
    assert headers == {"Idempotency-Key", "platform"}


def test_the_bearer_scheme_is_declared(published):
    scheme = published["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_sandbox_and_internal_routes_never_reach_the_published_document():
    @get("/sandbox/airtable/v0/{base:str}", include_in_schema=True, sync_to_thread=False)
    def sandbox_route(base: str) -> dict[str, str]:
        return {"base": base}

    @get("/jobs-stats", include_in_schema=True, sync_to_thread=False)
    def documented_route() -> dict[str, str]:
        return {}

    app = Litestar([sandbox_route, documented_route], openapi_config=openapi_config())
    document = openapi_document(app.openapi_schema.to_schema())
    assert list(document["paths"]) == ["/jobs-stats"]
