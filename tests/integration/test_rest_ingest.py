"""The REST door reaches the same services as GraphQL: the same jobs, the same records, the same
idempotency, the same errors (in the one REST error shape), the same tenant walls."""

import asyncio
import json

import orjson
import pytest
from sqlalchemy import func, select

from app.db.models import IngestJob, StagedRecord
from tests.conftest import create_tenant
from tests.helpers import JOB_QUERY, RECORDS_QUERY, drain, ingest_mutation, shopify_product
from tests.integration.test_assets import asset as inline_asset

PRICE_AS_FLOAT = {"price": {"amount": 49.9, "currency": "EUR"}}


async def _count(services, model):
    async with services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


def _without_request_id(body):
    error = dict(body["error"])
    assert error.pop("request_id")
    return error


async def test_a_push_is_accepted_with_202_the_job_and_where_to_follow_it(api, services, tenant):
    response = await api.post(
        "/ingest/products", json={"records": [shopify_product(1)]}, headers=tenant.headers
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert "idempotent-replayed" not in response.headers
    assert job["entity"] == "product"
    assert job["status"] == "QUEUED"
    assert job["door"] == "rest"
    assert job["counters"]["received"] == 1
    assert job["request_id"] == response.headers["x-request-id"]
    assert job["errors"] == []
    assert job["errors_next_cursor"] is None
    await drain(services)

    followed = await api.get(response.headers["location"], headers=tenant.headers)
    assert followed.status_code == 200
    done = followed.json()
    assert done["id"] == job["id"]
    assert done["status"] == "SUCCEEDED"
    assert done["counters"] == {
        "received": 1,
        "valid": 1,
        "quarantined": 0,
        "unchanged": 0,
        "stale": 0,
        "written": 1,
        "held": 0,
        "processed": 1,
    }
    assert done["attempts"] == 1
    assert done["started_at"] is not None
    assert done["finished_at"] is not None


async def test_a_record_pushed_by_rest_is_read_back_through_graphql(api, gql, services, tenant):
    record = shopify_product(7)
    response = await api.post(
        "/ingest/products", json={"records": [record]}, headers=tenant.headers
    )
    job_id = response.json()["id"]
    await drain(services)

    job = (await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"]
    assert job["door"] == "REST"
    assert job["status"] == "SUCCEEDED"
    assert job["requestId"] == response.headers["x-request-id"]
    records = await gql(
        RECORDS_QUERY,
        {"entity": "PRODUCT", "ids": [record["external_id"]], "first": 10},
        key=tenant.secret,
    )
    [stored] = records["records"]["nodes"]
    assert stored["data"]["name"] == "Linen Shirt 7"
    assert stored["data"]["price"] == {"amount": "49.90", "currency": "EUR"}


async def test_rest_and_graphql_make_identical_jobs_from_identical_records(api, gql, services):
    """One contract, two doors: counters and record errors agree field for field."""
    by_rest, by_graphql = (
        await create_tenant(services, "Rest"),
        await create_tenant(services, "Gql"),
    )
    records = [
        shopify_product(1),
        shopify_product(2, **PRICE_AS_FLOAT),
        shopify_product(3, name=""),
        42,
    ]
    rest = await api.post("/ingest/products", json={"records": records}, headers=by_rest.headers)
    pushed = await gql(
        ingest_mutation("product"), {"input": {"records": records}}, key=by_graphql.secret
    )
    await drain(services)

    rest_job = (await api.get(f"/jobs/{rest.json()['id']}", headers=by_rest.headers)).json()
    gql_job = (
        await gql(JOB_QUERY, {"id": pushed["ingestProducts"]["job"]["id"]}, key=by_graphql.secret)
    )["job"]
    assert rest_job["counters"] == gql_job["counters"]
    assert rest_job["counters"]["quarantined"] == 3
    assert rest_job["status"] == gql_job["status"] == "PARTIALLY_SUCCEEDED"
    assert [
        (e["index"], e["external_id"], e["code"], e["message"], e["path"])
        for e in rest_job["errors"]
    ] == [
        (e["index"], e["externalId"], e["code"], e["message"], e["path"])
        for e in gql_job["errors"]["nodes"]
    ]
    assert "records[1].price.amount" in [e["path"] for e in rest_job["errors"]]


async def test_a_retry_with_the_same_idempotency_key_replays_the_first_job(
    api, gql, services, tenant
):
    headers = {**tenant.headers, "Idempotency-Key": "catalog-2026-11-01"}
    body = {"records": [shopify_product(1), shopify_product(2)]}
    first = await api.post("/ingest/products", json=body, headers=headers)
    again = await api.post("/ingest/products", json=body, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.json()["idempotency_key"] == "catalog-2026-11-01"
    # The key is the client's, whichever door it comes through.
    variables = {"input": {"records": body["records"], "idempotencyKey": "catalog-2026-11-01"}}
    via_graphql = (await gql(ingest_mutation("product"), variables, key=tenant.secret))[
        "ingestProducts"
    ]
    assert via_graphql["replayed"] is True
    assert via_graphql["job"]["id"] == first.json()["id"]
    assert await _count(services, IngestJob) == 1
    await drain(services)


async def test_reusing_an_idempotency_key_with_another_body_is_a_409(api, services, tenant):
    headers = {**tenant.headers, "Idempotency-Key": "k-1"}
    await api.post("/ingest/products", json={"records": [shopify_product(1)]}, headers=headers)
    response = await api.post(
        "/ingest/products", json={"records": [shopify_product(2)]}, headers=headers
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["type"] == "conflict"
    assert error["code"] == "idempotency_conflict"
    assert error["param"] == "Idempotency-Key"
    assert "Idempotency-Key" in error["message"]
    assert error["errors"][0]["path"] == "Idempotency-Key"
    # Same records, another entity: a different request too.
    other_entity = await api.post(
        "/ingest/assets", json={"records": [shopify_product(1)]}, headers=headers
    )
    assert other_entity.status_code == 409
    assert await _count(services, IngestJob) == 1
    await drain(services)


async def test_a_retry_with_the_same_records_in_another_key_order_is_a_replay(
    api, services, tenant
):
    """The same records are the same request: neither key order nor whitespace makes another,
    and each record is staged in one canonical form (sorted keys), however it was sent."""
    headers = {
        **tenant.headers,
        "Idempotency-Key": "reordered",
        "Content-Type": "application/json",
    }
    records = [shopify_product(1), shopify_product(2)]
    reordered = [dict(reversed(list(record.items()))) for record in records]
    first = await api.post(
        "/ingest/products",
        content=json.dumps({"records": reordered}, indent=2).encode(),
        headers=headers,
    )
    again = await api.post("/ingest/products", json={"records": records}, headers=headers)
    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await _count(services, IngestJob) == 1
    async with services.sessions() as session:
        staged = await session.scalars(
            select(StagedRecord.payload)
            .where(StagedRecord.job_id == first.json()["id"])
            .order_by(StagedRecord.position)
        )
        assert list(staged) == [
            orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode() for record in records
        ]
    await drain(services)


async def test_concurrent_calls_with_one_idempotency_key_make_one_job(api, services, tenant):
    headers = {**tenant.headers, "Idempotency-Key": "at-once"}
    body = {"records": [shopify_product(n) for n in range(50)]}
    responses = await asyncio.gather(
        *(api.post("/ingest/products", json=body, headers=headers) for _ in range(3))
    )
    assert sorted(response.status_code for response in responses) == [200, 200, 202]
    assert len({response.json()["id"] for response in responses}) == 1
    assert await _count(services, IngestJob) == 1
    assert await _count(services, StagedRecord) == 50
    await drain(services)


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_an_idempotency_key_of_the_wrong_length_is_rejected(api, services, tenant, key):
    response = await api.post(
        "/ingest/products",
        json={"records": [shopify_product(1)]},
        headers={**tenant.headers, "Idempotency-Key": key},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "Idempotency-Key"
    assert error["errors"][0]["code"] == "invalid_idempotency_key"
    assert await _count(services, IngestJob) == 0


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        (b'{"records": [{"external_id": "1"}', "malformed_json", ""),
        (b'{"records": [{"name": "\xff"}]}', "malformed_json", ""),
        (b'{"records": [{"name": "\\ud800"}]}', "malformed_json", ""),
        (b'{"records": [{"price": 1e999999}]}', "malformed_json", ""),
        (b'{"records": [' + b"[" * 1100 + b"]" * 1100 + b"]}", "malformed_json", ""),
        (b"", "malformed_json", ""),
        (b'[{"external_id": "1"}]', "body_not_object", ""),
        (b'"records"', "body_not_object", ""),
        (b"{}", "missing_records", "records"),
        (b'{"records": {"external_id": "1"}}', "records_not_a_list", "records"),
        (b'{"records": null}', "records_not_a_list", "records"),
        (b'{"records": []}', "empty_records", "records"),
        (b'{"records": [{}], "idempotency_key": "k"}', "unknown_field", "idempotency_key"),
        (b'{"records": [{"id": "1"}, {"name": "A","name": "B"}]}', "duplicate_key", "records[1]"),
        (b'{"records": [{"a": {"x": 1, "y": [{"x": 2, "x": 3}]}}]}', "duplicate_key", "records[0]"),
        (b'{"records": [{"id": "1"}], "records": [{"id": "2"}]}', "duplicate_key", ""),
    ],
)
async def test_a_bad_envelope_is_a_400_naming_the_problem_and_stores_nothing(
    api, services, tenant, body, code, path
):
    response = await api.post(
        "/ingest/products",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["code"] == "invalid_envelope"
    assert error["param"] == (path or None)
    assert error["request_id"] == response.headers["x-request-id"]
    [problem] = error["errors"]
    assert problem["code"] == code
    assert problem["path"] == path
    assert problem["message"] == error["message"]
    assert await _count(services, IngestJob) == 0


async def test_more_records_than_one_call_takes_is_rejected_whole(api, services, tenant):
    limit = services.settings.max_records_per_call
    response = await api.post(
        "/ingest/audience", json={"records": [{}] * (limit + 1)}, headers=tenant.headers
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["errors"][0]["code"] == "too_many_records"
    assert error["param"] == "records"
    assert str(limit) in error["message"]
    assert await _count(services, StagedRecord) == 0


async def test_native_platform_shapes_are_mapped_with_the_platform_parameter(api, services, tenant):
    native = {"id": 8072389472, "title": "Linen Shirt", "updated_at": "2026-11-01T10:00:00Z"}
    response = await api.post(
        "/ingest/products?platform=shopify", json={"records": [native]}, headers=tenant.headers
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    await drain(services)
    async with services.sessions() as session:
        job = await session.get(IngestJob, job_id)
    assert job is not None and job.source_platform == "shopify" and job.door == "rest"
    # The same key with the same records in the standard shape is another request.
    headers = {**tenant.headers, "Idempotency-Key": "native-1"}
    first = await api.post(
        "/ingest/products?platform=shopify", json={"records": [native]}, headers=headers
    )
    standard = await api.post("/ingest/products", json={"records": [native]}, headers=headers)
    assert first.status_code == 202
    assert standard.status_code == 409
    await drain(services)


@pytest.mark.parametrize(
    ("query", "code", "param"),
    [
        ("platform=magento", "unsupported_mapping", "platform"),
        ("platform=SHOPIFY", "unsupported_mapping", "platform"),
        ("platform=", "unsupported_mapping", "platform"),
        ("source=shopify", "unsupported_parameter", "source"),
    ],
)
async def test_a_bad_query_parameter_is_a_400_naming_it(api, services, tenant, query, code, param):
    response = await api.post(
        f"/ingest/products?{query}", json={"records": [{"id": 1}]}, headers=tenant.headers
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["param"] == param
    if code == "unsupported_mapping":
        assert "hubspot audience" in error["message"] and "shopify product" in error["message"]
    assert await _count(services, IngestJob) == 0


async def test_a_body_that_is_not_json_gets_415(api, services, tenant):
    response = await api.post(
        "/ingest/products",
        content=b"external_id,name\n1,Linen Shirt\n",
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert await _count(services, IngestJob) == 0


async def test_every_entity_has_its_endpoint(api, services, tenant):
    bodies = {
        "assets": {
            "external_id": "a-1",
            "source_platform": "custom",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "kind": "image",
            "source_url": "https://cdn.example.com/a-1.jpg",
        },
        "campaigns": {
            "external_id": "c-1",
            "source_platform": "hubspot",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "name": "Summer linen",
        },
        "audience": {
            "external_id": "p-1",
            "source_platform": "hubspot",
            "source_updated_at": "2026-11-01T10:00:00Z",
            "email": "Ana@Example.com",
        },
    }
    for path, record in bodies.items():
        response = await api.post(
            f"/ingest/{path}", json={"records": [record]}, headers=tenant.headers
        )
        assert response.status_code == 202, response.text
    await drain(services)
    listed = (await api.get("/jobs", headers=tenant.headers)).json()["data"]
    assert sorted(job["entity"] for job in listed) == ["asset", "audience", "campaign"]
    assert {job["status"] for job in listed} == {"SUCCEEDED"}


async def test_a_missing_key_is_a_401_in_the_one_error_shape(api, services):
    for method, path in (("POST", "/ingest/products"), ("GET", "/jobs"), ("GET", "/jobs/job_x")):
        response = await api.request(method, path, json={"records": [shopify_product(1)]})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="gateway"'
        error = response.json()["error"]
        assert error["type"] == "authentication"
        assert error["code"] == "missing_api_key"
        assert error["param"] is None
    assert await _count(services, IngestJob) == 0


async def test_an_invalid_key_gets_the_same_401_as_on_graphql(api, gql, services, tenant):
    unknown = "gw_test_000000000000_" + "0" * 48
    for key in (unknown, tenant.secret[:-4] + "0000", "gw_test_short"):
        rest = await api.post(
            "/ingest/products",
            json={"records": [shopify_product(1)]},
            headers={"Authorization": f"Bearer {key}"},
        )
        graphql = await gql.raw("{ viewer { mode } }", key=key)
        assert rest.status_code == graphql.status_code == 401
        assert _without_request_id(rest.json()) == _without_request_id(graphql.json())
        assert rest.json()["error"]["code"] == "invalid_api_key"
    basic = await api.get("/jobs", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    assert basic.json()["error"]["code"] == "invalid_api_key"

    async with services.sessions() as session, session.begin():
        from app.tenancy import service as tenancy

        await tenancy.revoke_key(session, tenant.key_id)
    revoked = await api.get("/jobs", headers=tenant.headers)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["message"] == "The API key has been revoked."
    assert await _count(services, IngestJob) == 0


async def test_another_clients_job_is_a_404_exactly_like_a_missing_one(api, services, tenant):
    intruder = await create_tenant(services, "Intruder")
    pushed = await api.post(
        "/ingest/products",
        json={"records": [shopify_product(1, **PRICE_AS_FLOAT)]},
        headers=tenant.headers,
    )
    job_id = pushed.json()["id"]
    await drain(services)

    theirs = await api.get(f"/jobs/{job_id}", headers=intruder.headers)
    missing = await api.get("/jobs/job_01m8zzzzzzzzzzzzzzzzzzzzzz", headers=intruder.headers)
    assert theirs.status_code == missing.status_code == 404
    assert _without_request_id(theirs.json()) == _without_request_id(missing.json())
    assert _without_request_id(theirs.json())["code"] == "not_found"
    assert (await api.get(f"/jobs/{job_id}/errors", headers=intruder.headers)).status_code == 404
    assert (await api.get("/jobs", headers=intruder.headers)).json() == {
        "data": [],
        "page_info": {"end_cursor": None, "has_next_page": False},
    }
    # Nor does the same client's live key see its test data.
    async with services.sessions() as session, session.begin():
        from app.tenancy import service as tenancy
        from app.tenancy.models import KeyMode

        live = await tenancy.create_key(session, tenant.client_id, KeyMode.LIVE)
    live_headers = {"Authorization": f"Bearer {live.secret}"}
    assert (await api.get(f"/jobs/{job_id}", headers=live_headers)).status_code == 404
    assert (await api.get("/jobs", headers=live_headers)).json()["data"] == []
    # The owner sees it, errors included.
    mine = (await api.get(f"/jobs/{job_id}", headers=tenant.headers)).json()
    assert mine["errors"][0]["path"] == "records[0].price.amount"


async def test_jobs_page_newest_first_and_filter(api, services, tenant):
    ids = []
    for number in range(5):
        entity = "products" if number % 2 == 0 else "audience"
        record = (
            shopify_product(number)
            if entity == "products"
            else {
                "external_id": f"p-{number}",
                "source_platform": "custom",
                "source_updated_at": "2026-11-01T10:00:00Z",
                "email": f"p{number}@example.com",
            }
        )
        response = await api.post(
            f"/ingest/{entity}", json={"records": [record]}, headers=tenant.headers
        )
        ids.append(response.json()["id"])
    await drain(services)

    seen, after, pages = [], None, 0
    while True:
        params = {"first": 2} | ({"after": after} if after else {})
        page = (await api.get("/jobs", params=params, headers=tenant.headers)).json()
        pages += 1
        assert len(page["data"]) <= 2
        assert "errors" not in page["data"][0]
        seen += [job["id"] for job in page["data"]]
        if not page["page_info"]["has_next_page"]:
            break
        after = page["page_info"]["end_cursor"]
    assert seen == list(reversed(ids))
    assert pages == 3

    products = await api.get("/jobs", params={"entity": "product"}, headers=tenant.headers)
    assert [job["id"] for job in products.json()["data"]] == [ids[4], ids[2], ids[0]]
    done = await api.get("/jobs", params={"status": "SUCCEEDED"}, headers=tenant.headers)
    assert len(done.json()["data"]) == 5
    queued = await api.get("/jobs", params={"status": "QUEUED"}, headers=tenant.headers)
    assert queued.json()["data"] == []


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"first": 0}, "invalid_page_size", "first"),
        ({"first": 501}, "invalid_page_size", "first"),
        ({"first": "ten"}, "invalid_page_size", "first"),
        ({"after": "not a cursor!"}, "invalid_cursor", "after"),
        ({"status": "done"}, "invalid_parameter", "status"),
        ({"entity": "PRODUCT"}, "invalid_parameter", "entity"),
    ],
)
async def test_bad_paging_or_filters_are_a_400_naming_the_parameter(
    api, tenant, params, code, param
):
    response = await api.get("/jobs", params=params, headers=tenant.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["code"] == code
    assert error["param"] == param
    assert error["errors"][0]["path"] == param


async def test_a_job_carries_its_first_100_errors_and_pages_on_to_the_rest(api, services, tenant):
    records = [shopify_product(n, **PRICE_AS_FLOAT) for n in range(103)]
    pushed = await api.post("/ingest/products", json={"records": records}, headers=tenant.headers)
    job_id = pushed.json()["id"]
    await drain(services)

    job = (await api.get(f"/jobs/{job_id}", headers=tenant.headers)).json()
    assert job["counters"]["quarantined"] == 103
    assert job["status"] == "FAILED"  # nothing valid: every record was quarantined
    assert len(job["errors"]) == 100
    assert [e["index"] for e in job["errors"]] == list(range(100))
    assert job["errors"][3]["path"] == "records[3].price.amount"
    assert job["errors"][3]["external_id"] == records[3]["external_id"]
    assert job["errors_next_cursor"]

    rest = await api.get(
        f"/jobs/{job_id}/errors",
        params={"after": job["errors_next_cursor"]},
        headers=tenant.headers,
    )
    assert rest.status_code == 200
    assert [e["index"] for e in rest.json()["data"]] == [100, 101, 102]
    assert rest.json()["page_info"]["has_next_page"] is False
    small = await api.get(f"/jobs/{job_id}/errors", params={"first": 5}, headers=tenant.headers)
    assert [e["index"] for e in small.json()["data"]] == [0, 1, 2, 3, 4]
    assert small.json()["page_info"]["has_next_page"] is True


async def test_a_record_over_the_size_limit_is_a_400_naming_it_and_stores_nothing(
    api, services, tenant
):
    huge = shopify_product(2, description="linen " * 500_000)  # 3 MB as JSON
    response = await api.post(
        "/ingest/products", json={"records": [shopify_product(1), huge]}, headers=tenant.headers
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_envelope", "records[1]")
    [problem] = error["errors"]
    assert problem["code"] == "record_too_large"
    assert problem["message"].startswith("records[1] is 3,00")
    assert "at most 2,097,152 bytes" in problem["message"]
    assert await _count(services, IngestJob) == 0


async def test_an_asset_may_carry_its_file_inline_beyond_the_record_limit(api, services, tenant):
    inline = "QUJD" * 1_000_000  # 4,000,000 characters
    asset = inline_asset("a-1", kind="document", filename="catalogue.pdf", content_base64=inline)
    response = await api.post("/ingest/assets", json={"records": [asset]}, headers=tenant.headers)
    assert response.status_code == 202, response.text
