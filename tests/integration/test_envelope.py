"""Bad calls get a clear error naming the field; nothing valid is lost."""

import orjson
from sqlalchemy import func, select

from app.db.models import IngestJob, StagedRecord
from tests.helpers import JOB_QUERY, drain, ingest_mutation, shopify_product

PUSH = ingest_mutation("product")


async def _count(services, model):
    async with services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_an_empty_batch_is_rejected_with_the_field_named(gql, services, tenant):
    data = await gql(PUSH, {"input": {"records": []}}, key=tenant.secret)
    payload = data["ingestProducts"]
    assert payload["job"] is None
    assert payload["errors"] == [
        {
            "code": "empty_records",
            "path": "records",
            "message": "records must hold at least one record.",
        }
    ]
    assert await _count(services, IngestJob) == 0


async def test_more_than_the_maximum_per_call_is_rejected_whole(gql, services, tenant):
    limit = services.settings.max_records_per_call
    records = [shopify_product(1)] * (limit + 1)
    payload = (await gql(PUSH, {"input": {"records": records}}, key=tenant.secret))[
        "ingestProducts"
    ]
    assert payload["job"] is None
    [error] = payload["errors"]
    assert error["code"] == "too_many_records"
    assert str(limit) in error["message"]
    assert await _count(services, StagedRecord) == 0


async def test_the_maximum_per_call_is_accepted(gql, services, tenant):
    limit = services.settings.max_records_per_call
    assert limit >= 5000
    records = [shopify_product(n) for n in range(limit)]
    payload = (await gql(PUSH, {"input": {"records": records}}, key=tenant.secret))[
        "ingestProducts"
    ]
    assert payload["errors"] == []
    assert payload["job"]["counters"]["received"] == limit
    assert await _count(services, StagedRecord) == limit
    await drain(services)


async def test_malformed_json_gets_400_with_a_reason(api, tenant):
    response = await api.post(
        "/graphql",
        content=b'{"query": "{ viewer { mode } }"',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "bad_request"
    assert "not valid JSON" in body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]


async def test_a_repeated_key_gets_400_naming_it_and_stores_nothing(api, services, tenant):
    record = orjson.dumps(shopify_product(1))[:-1] + b', "name": "Other shirt"}'
    body = b'{"query": %s, "variables": {"input": {"records": [%s]}}}' % (
        orjson.dumps(PUSH),
        record,
    )
    response = await api.post(
        "/graphql", content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == (
        "The request body repeats the key 'name' in one object; each key may appear once."
    )
    assert await _count(services, IngestJob) == 0


async def test_an_oversize_body_gets_413(api, services, tenant):
    body = b'{"query": "' + b" " * (services.settings.max_body_bytes + 10) + b'"}'
    response = await api.post(
        "/graphql", content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_missing_records_is_a_graphql_error_naming_the_field(gql, tenant):
    response = await gql.raw(PUSH, {"input": {"records": None}}, key=tenant.secret)
    [error] = response.json()["errors"]
    assert "records" in error["message"]
    assert "non-null type" in error["message"]


async def test_a_record_that_is_not_an_object_is_quarantined_not_fatal(gql, services, tenant):
    # GraphQL coerces a single value to a one-item list; the item is then judged on its own.
    records = [shopify_product(1), 42]
    payload = (await gql(PUSH, {"input": {"records": records}}, key=tenant.secret))[
        "ingestProducts"
    ]
    await drain(services)
    job = (await gql(JOB_QUERY, {"id": payload["job"]["id"]}, key=tenant.secret))["job"]
    assert job["counters"]["written"] == 1
    assert job["errors"]["nodes"][0]["message"] == "Each record must be a JSON object."


async def test_retrying_with_the_same_idempotency_key_returns_the_first_job(gql, services, tenant):
    variables = {"input": {"records": [shopify_product(1)], "idempotencyKey": "order-77"}}
    first = (await gql(PUSH, variables, key=tenant.secret))["ingestProducts"]
    again = (await gql(PUSH, variables, key=tenant.secret))["ingestProducts"]
    assert first["replayed"] is False
    assert again["replayed"] is True
    assert again["job"]["id"] == first["job"]["id"]
    assert await _count(services, IngestJob) == 1
    await drain(services)


async def test_reusing_an_idempotency_key_with_other_records_is_a_conflict(gql, services, tenant):
    await gql(
        PUSH, {"input": {"records": [shopify_product(1)], "idempotencyKey": "k"}}, key=tenant.secret
    )
    other = {"input": {"records": [shopify_product(2)], "idempotencyKey": "k"}}
    payload = (await gql(PUSH, other, key=tenant.secret))["ingestProducts"]
    assert payload["job"] is None
    assert payload["errors"][0]["code"] == "idempotency_conflict"
    assert payload["errors"][0]["path"] == "idempotencyKey"
    await drain(services)


async def test_idempotency_keys_are_scoped_to_the_client(gql, services, tenant):
    from tests.conftest import create_tenant

    other = await create_tenant(services, "Other")
    variables = {"input": {"records": [shopify_product(1)], "idempotencyKey": "shared"}}
    mine = (await gql(PUSH, variables, key=tenant.secret))["ingestProducts"]
    theirs = (await gql(PUSH, variables, key=other.secret))["ingestProducts"]
    assert theirs["replayed"] is False
    assert theirs["job"]["id"] != mine["job"]["id"]
    await drain(services)


async def test_a_record_over_the_size_limit_is_an_error_naming_it(gql, services, tenant):
    huge = shopify_product(1, description="linen " * 500_000)  # 3 MB as JSON
    payload = (await gql(PUSH, {"input": {"records": [huge]}}, key=tenant.secret))["ingestProducts"]
    assert payload["job"] is None
    [error] = payload["errors"]
    assert (error["code"], error["path"]) == ("record_too_large", "records[0]")
    assert await _count(services, StagedRecord) == 0
