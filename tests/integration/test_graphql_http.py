"""GraphQL over HTTP (graphql-over-http spec): `application/graphql-response+json` for clients
that accept it, with 4xx for requests that fail before execution and 200 for executed ones;
legacy `application/json` otherwise; GET for queries only; JSON bodies only."""

import httpx
import pytest

from tests.conftest import Tenant

GRAPHQL_RESPONSE = "application/graphql-response+json"
VIEWER = "query { viewer { client { id } } }"


async def post(
    api: httpx.AsyncClient, tenant: Tenant, body: object, accept: str | None = None
) -> httpx.Response:
    headers = dict(tenant.headers)
    if accept is not None:
        headers["Accept"] = accept
    return await api.post("/graphql", json=body, headers=headers)


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


async def test_a_client_accepting_graphql_response_json_gets_it_with_200_for_an_executed_query(
    api, tenant
):
    response = await post(api, tenant, {"query": VIEWER}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["data"]["viewer"]["client"]["id"] == tenant.client_id


@pytest.mark.parametrize(
    "body",
    [
        {"query": "query { viewer { "},  # does not parse
        {"query": "query { viewer { noSuchField } }"},  # does not validate
        {"query": "query($n: Int!) { viewer { client { id } } }", "variables": {"n": "x"}},
    ],
    ids=["parse", "validation", "variables"],
)
async def test_a_request_error_is_a_400_without_data_for_graphql_response_json(api, tenant, body):
    response = await post(api, tenant, body, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    payload = response.json()
    assert "data" not in payload
    assert payload["errors"][0]["message"]


async def test_legacy_json_clients_keep_200_for_request_errors(api, tenant):
    for accept in (None, "application/json", "*/*"):
        response = await post(api, tenant, {"query": "query { nope }"}, accept=accept)
        assert response.status_code == 200, accept
        assert media_type(response) == "application/json"
        assert "data" not in response.json()
        assert response.json()["errors"]


async def test_the_client_preference_decides_between_the_two_media_types(api, tenant):
    preferred_json = f"application/json, {GRAPHQL_RESPONSE};q=0.5"
    response = await post(api, tenant, {"query": VIEWER}, accept=preferred_json)
    assert media_type(response) == "application/json"
    preferred_graphql = f"{GRAPHQL_RESPONSE}, application/json;q=0.9"
    response = await post(api, tenant, {"query": VIEWER}, accept=preferred_graphql)
    assert media_type(response) == GRAPHQL_RESPONSE


async def test_an_unacceptable_accept_header_is_a_406(api, tenant):
    response = await post(api, tenant, {"query": VIEWER}, accept="application/xml")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


async def test_an_execution_error_is_still_a_200_with_data(api, tenant):
    query = 'query { job(id: "job_does_not_exist") { id } }'
    response = await post(api, tenant, {"query": query}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert "data" in response.json()


async def test_queries_may_use_get(api, tenant):
    response = await api.get(
        "/graphql",
        params={"query": VIEWER},
        headers={**tenant.headers, "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["client"]["id"] == tenant.client_id


async def test_mutations_via_get_are_refused_with_405_and_allow_post(api, tenant):
    mutation = "mutation { __typename }"
    response = await api.get("/graphql", params={"query": mutation}, headers=tenant.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_post_body_must_be_json(api, tenant):
    headers = {**tenant.headers, "Content-Type": "text/plain"}
    response = await api.post("/graphql", content=f'{{"query": "{VIEWER}"}}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    charset = {**tenant.headers, "Content-Type": "application/json; charset=utf-8"}
    response = await api.post("/graphql", content=f'{{"query": "{VIEWER}"}}', headers=charset)
    assert response.status_code == 200


async def test_a_body_that_is_not_json_or_has_no_query_is_a_400(api, tenant):
    headers = {**tenant.headers, "Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE}
    broken = await api.post("/graphql", content=b'{"query": ', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "bad_request"
    empty = await api.post("/graphql", content=b"{}", headers=headers)
    assert empty.status_code == 400
    not_a_string = await api.post("/graphql", content=b'{"query": 1}', headers=headers)
    assert not_a_string.status_code == 400


async def test_other_methods_are_405(api, tenant):
    response = await api.put("/graphql", json={"query": VIEWER}, headers=tenant.headers)
    assert response.status_code == 405  # the router's answer, in the one error shape
    assert "POST" in response.headers["allow"]
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
