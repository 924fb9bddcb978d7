"""GraphQL request limits that depend on settings and on the caller: the token budget of one
document, and introspection answered for test keys but not for live keys (unless allowed)."""

from typing import Any

import pytest

from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.tenancy.models import KeyMode
from tests.conftest import Tenant, make_settings

INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return make_settings(database_url, sandbox_blob_dir=tmp_path / "blobs", graphql_max_tokens=200)


async def live_key(services: Services, tenant: Tenant) -> str:
    async with services.sessions() as session, session.begin():
        created = await tenancy.create_key(session, tenant.client_id, KeyMode.LIVE)
    return created.secret


async def test_a_document_over_the_token_budget_is_refused_before_it_runs(gql, tenant):
    small = await gql.raw("{ viewer { mode } }", key=tenant.secret)
    assert "errors" not in small.json()
    fields = " ".join(f"f{n}: __typename" for n in range(25))  # 25 aliases, 76 tokens...
    padded = "{ " + " ".join(["viewer { mode }"] * 60) + " }"  # ...this one well over 200
    assert "errors" not in (await gql.raw("{ " + fields + " }", key=tenant.secret)).json()
    refused = (await gql.raw(padded, key=tenant.secret)).json()
    [error] = refused["errors"]
    assert "200 tokens" in error["message"]
    assert refused.get("data") is None


async def test_live_keys_get_no_introspection_test_keys_do(gql, services, tenant):
    allowed = (await gql.raw(INTROSPECTION, key=tenant.secret)).json()
    assert allowed["data"]["__schema"]["queryType"]["name"] == "Query"

    refused = (await gql.raw(INTROSPECTION, key=await live_key(services, tenant))).json()
    assert refused["errors"]
    assert all("introspection" in e["message"].lower() for e in refused["errors"])
    assert refused.get("data") is None


async def test_live_introspection_can_be_allowed(gql, services, tenant):
    services.settings.graphql_live_introspection = True
    answer = (await gql.raw(INTROSPECTION, key=await live_key(services, tenant))).json()
    assert answer["data"]["__schema"]["queryType"]["name"] == "Query"
