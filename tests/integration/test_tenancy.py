"""No request sees another client's data, and test data never mixes with live data."""

from tests.conftest import create_tenant
from tests.helpers import JOB_QUERY, RECORDS_QUERY, drain, ingest_mutation, shopify_product

JOBS_QUERY = "{ jobs(first: 50) { nodes { id } } }"


async def _push_one(gql, tenant, number=1):
    variables = {"input": {"records": [shopify_product(number)]}}
    data = await gql(ingest_mutation("product"), variables, key=tenant.secret)
    return data["ingestProducts"]["job"]["id"]


async def test_tenant_b_cannot_read_tenant_a_jobs_or_records(gql, services, tenant):
    intruder = await create_tenant(services, "Intruder")
    job_id = await _push_one(gql, tenant)
    await drain(services)

    as_intruder = await gql(JOB_QUERY, {"id": job_id}, key=intruder.secret)
    absent = await gql(JOB_QUERY, {"id": "job_01m8zzzzzzzzzzzzzzzzzzzzzz"}, key=intruder.secret)
    assert as_intruder == absent == {"job": None}
    assert (await gql(JOBS_QUERY, key=intruder.secret))["jobs"]["nodes"] == []
    records = await gql(RECORDS_QUERY, {"entity": "PRODUCT", "first": 100}, key=intruder.secret)
    assert records["records"]["nodes"] == []
    # The owner still sees everything.
    assert (await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"]["id"] == job_id


async def test_enumerating_job_ids_reveals_nothing(gql, services, tenant):
    intruder = await create_tenant(services, "Intruder")
    job_ids = [await _push_one(gql, tenant, n) for n in range(3)]
    await drain(services)
    for job_id in job_ids:
        guessed = [job_id, job_id[:-1] + "0", job_id.upper(), "' OR 1=1 --"]
        for candidate in guessed:
            assert (await gql(JOB_QUERY, {"id": candidate}, key=intruder.secret)) == {"job": None}


async def test_test_and_live_data_are_kept_apart(gql, services, tenant):
    async with services.sessions() as session, session.begin():
        from app.tenancy import service as tenancy
        from app.tenancy.models import KeyMode

        live = await tenancy.create_key(session, tenant.client_id, KeyMode.LIVE)
    job_id = await _push_one(gql, tenant)
    await drain(services)
    assert (await gql(JOB_QUERY, {"id": job_id}, key=live.secret)) == {"job": None}
    viewer = await gql("{ viewer { mode client { id } } }", key=live.secret)
    assert viewer["viewer"] == {"mode": "LIVE", "client": {"id": tenant.client_id}}


async def test_keys_that_are_unknown_malformed_or_revoked_get_401(gql, services, tenant):
    unknown = "gw_test_000000000000_" + "0" * 48
    wrong_secret = tenant.secret[:-4] + "0000"
    for key in (unknown, wrong_secret, "gw_test_short", "Basic abc"):
        response = await gql.raw("{ viewer { mode } }", key=key)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "invalid_api_key"
        assert error["type"] == "authentication"
        assert tenant.client_id not in response.text

    async with services.sessions() as session, session.begin():
        from app.tenancy import service as tenancy

        await tenancy.revoke_key(session, tenant.key_id)
    revoked = await gql.raw("{ viewer { mode } }", key=tenant.secret)
    assert revoked.status_code == 401
    # Only the holder of the whole secret learns that it was revoked rather than unknown.
    assert revoked.json()["error"]["message"] == "The API key has been revoked."


async def test_a_missing_key_gets_401_but_introspection_works(gql):
    response = await gql.raw("{ viewer { mode } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "unauthenticated"
    introspection = await gql.raw("{ __schema { queryType { name } } }")
    assert introspection.status_code == 200
    assert introspection.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_non_bearer_authorization_header_is_rejected(api):
    response = await api.post(
        "/graphql", json={"query": "{ viewer { mode } }"}, headers={"Authorization": "Token abc"}
    )
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


async def test_an_empty_selection_set_is_a_validation_error_not_a_crash(gql, tenant):
    response = await gql.raw("{ jobs { nodes { } } }", key=tenant.secret)
    body = response.json()
    assert body.get("data") is None
    assert body["errors"][0]["message"] == "A selection set is empty: select at least one field."
