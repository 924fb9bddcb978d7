"""Bulk import: the ingest endpoints take NDJSON streams (one record per line) as one job, stored
batch by batch as the stream arrives. Bad lines are record errors with their line numbers; a
stream that does not end fails its job visibly and processes nothing."""

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from app.asgi import create_app
from app.db.models import CanonicalRecord, IngestJob, StagedRecord
from app.ids import new_id
from app.services import Services
from tests.conftest import Tenant, create_tenant
from tests.helpers import drain, shopify_product
from tests.integration.test_assets import asset as inline_asset
from tests.integration.test_ingest_raw import shopify_page

NDJSON = "application/x-ndjson"


def ndjson(records: list[Any]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def headers(tenant: Tenant, **extra: str) -> dict[str, str]:
    return {**tenant.headers, "Content-Type": NDJSON, **extra}


async def count(services: Services, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    async with services.sessions() as session:
        return int(await session.scalar(query) or 0)


async def job_row(services: Services, job_id: str | None = None) -> IngestJob:
    async with services.sessions() as session:
        query = select(IngestJob).order_by(IngestJob.id.desc()).limit(1)
        if job_id is not None:
            query = select(IngestJob).where(IngestJob.id == job_id)
        job = await session.scalar(query)
    assert job is not None
    return job


async def all_errors(api: Any, tenant: Tenant, job_id: str) -> list[dict[str, Any]]:
    page = await api.get(f"/jobs/{job_id}/errors", params={"first": 500}, headers=tenant.headers)
    return list(page.json()["data"])


async def test_ten_thousand_records_become_one_job(api, services, tenant):
    records = [shopify_product(n) for n in range(10_000)]
    response = await api.post("/ingest/products", content=ndjson(records), headers=headers(tenant))
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "QUEUED"
    assert job["door"] == "rest"
    assert job["counters"]["received"] == 10_000
    assert await count(services, StagedRecord, job_id=job["id"]) == 10_000
    await drain(services)

    done = (await api.get(f"/jobs/{job['id']}", headers=tenant.headers)).json()
    assert done["status"] == "SUCCEEDED", done["errors"]
    assert done["counters"]["written"] == 10_000
    assert await count(services, CanonicalRecord) == 10_000


async def test_each_bad_line_is_a_record_error_with_its_line_number(api, services, tenant):
    huge = shopify_product(90, description="x" * (10 * 1024 * 1024))
    lines = [
        orjson.dumps(shopify_product(1)),  # line 1
        b'{"external_id": "2", "name": ',  # line 2: not JSON
        b"",  # line 3: blank, no record
        b"42",  # line 4: not an object
        b'{"external_id": "5", "name": "A", "name": "B"}',  # line 5: a repeated key
        orjson.dumps(huge),  # line 6: 10 MB, over the per-record limit
        orjson.dumps(shopify_product(7)),  # line 7
        b'  {"external_id": "8",  "name" : "spaced but fine",  "x": [1, 2]}  ',  # line 8
        orjson.dumps(shopify_product(9)) + b"\r",  # line 9: CRLF
    ]
    body = b"\n".join(lines) + b"\n"
    response = await api.post("/ingest/products", content=body, headers=headers(tenant))
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["counters"]["received"] == 8
    assert job["counters"]["quarantined"] == 3
    early = {(e["index"], e["code"]) for e in job["errors"]}
    assert early == {(1, "malformed_json"), (4, "duplicate_key"), (5, "record_too_large")}
    await drain(services)

    done = (await api.get(f"/jobs/{job['id']}", headers=tenant.headers)).json()
    assert done["status"] == "PARTIALLY_SUCCEEDED"
    assert done["counters"]["written"] == 3  # lines 1, 7 and 9
    errors = await all_errors(api, tenant, job["id"])
    by_line = {e["index"] + 1: e for e in errors}
    assert set(by_line) == {2, 4, 5, 6, 8}
    assert by_line[2]["message"].startswith("Line 2 is not valid JSON")
    assert by_line[2]["path"] == "records[1]"
    assert by_line[4]["message"] == "Each record must be a JSON object."
    assert "repeats the key 'name'" in by_line[5]["message"]
    assert by_line[6]["message"].startswith("Line 6 is longer than 2,097,152 bytes")
    line_8 = {e["code"] for e in errors if e["index"] == 7}
    assert "required" in line_8  # staged as it came, validated like any record
    stored = {row.external_id for row in await _canonical(services)}
    assert stored == {shopify_product(n)["external_id"] for n in (1, 7, 9)}


async def test_an_asset_line_may_carry_its_file_inline_beyond_the_record_limit(
    api, services, tenant
):
    inline = "QUJD" * 1_000_000  # 4,000,000 characters
    asset = inline_asset("a-1", kind="document", filename="catalogue.pdf", content_base64=inline)
    response = await api.post("/ingest/assets", content=ndjson([asset]), headers=headers(tenant))
    assert response.status_code == 202, response.text
    assert response.json()["counters"]["quarantined"] == 0
    assert await count(services, StagedRecord) == 1


async def _canonical(services: Services) -> list[CanonicalRecord]:
    async with services.sessions() as session:
        return list(await session.scalars(select(CanonicalRecord)))


async def test_a_cut_off_last_line_is_an_error_and_its_neighbours_are_kept(api, services, tenant):
    body = ndjson([shopify_product(1), shopify_product(2)]) + orjson.dumps(shopify_product(3))[:90]
    response = await api.post("/ingest/products", content=body, headers=headers(tenant))
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["counters"]["received"] == 3
    [error] = job["errors"]
    assert error["index"] == 2
    assert error["code"] == "truncated_line"
    assert error["message"].startswith("Line 3, the last, is cut off")
    await drain(services)
    assert (await job_row(services, job["id"])).written == 2

    # A last line without its newline that is whole is a record like any other.
    whole = ndjson([shopify_product(4)]) + orjson.dumps(shopify_product(5))
    accepted = await api.post("/ingest/products", content=whole, headers=headers(tenant))
    assert accepted.json()["counters"]["received"] == 2
    assert accepted.json()["errors"] == []
    await drain(services)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Content-Type": "text/csv"}, "unsupported_media_type"),
        ({"Content-Type": "application/jsonl+gzip"}, "unsupported_media_type"),
        ({"Content-Encoding": "br"}, "unsupported_content_encoding"),
    ],
)
async def test_what_the_endpoint_cannot_read_is_a_415(api, services, tenant, extra, code):
    response = await api.post(
        "/ingest/products", content=ndjson([shopify_product(1)]), headers=headers(tenant, **extra)
    )
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["code"] == code
    assert await count(services, IngestJob) == 0


async def test_gzip_streams_are_inflated_and_bombs_are_stopped(api, services, tenant):
    records = [shopify_product(n) for n in range(50)]
    packed = gzip.compress(ndjson(records))
    response = await api.post(
        "/ingest/products", content=packed, headers=headers(tenant, **{"Content-Encoding": "gzip"})
    )
    assert response.status_code == 202, response.text
    assert response.json()["counters"]["received"] == 50
    await drain(services)

    services.settings.max_bulk_body_bytes = 4 * 1024 * 1024
    line = orjson.dumps(shopify_product(1)) + b"\n"
    bomb = gzip.compress(line * 40_000, compresslevel=9)  # ~50 MB inflated
    assert len(bomb) < services.settings.max_bulk_body_bytes // 10
    refused = await api.post(
        "/ingest/products", content=bomb, headers=headers(tenant, **{"Content-Encoding": "gzip"})
    )
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert error["code"] == "body_too_large"
    assert "4,194,304 bytes, decompressed" in error["message"]
    failed = await job_row(services)
    assert failed.status == "FAILED"
    assert "body_too_large" in (failed.failure_reason or "")
    assert await count(services, StagedRecord, job_id=failed.id) == 0

    broken = await api.post(
        "/ingest/products",
        content=packed[: len(packed) // 2],
        headers=headers(tenant, **{"Content-Encoding": "gzip"}),
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "malformed_gzip"


async def test_a_json_body_over_its_limit_is_a_413_naming_the_limit(api, services, tenant):
    services.settings.max_body_bytes = 64 * 1024
    records = [shopify_product(n) for n in range(100)]
    response = await api.post("/ingest/products", json={"records": records}, headers=tenant.headers)
    assert response.status_code == 413
    assert "65,536 bytes" in response.json()["error"]["message"]
    # The same records as a stream have their own, larger limit.
    streamed = await api.post("/ingest/products", content=ndjson(records), headers=headers(tenant))
    assert streamed.status_code == 202
    await drain(services)


async def test_an_empty_stream_is_a_400_and_stores_nothing(api, services, tenant):
    response = await api.post("/ingest/products", content=b"\n\n  \n", headers=headers(tenant))
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["code"] == "empty_records"
    assert await count(services, IngestJob) == 0


async def test_more_records_than_a_bulk_import_takes_fails_the_job(api, services, tenant):
    services.settings.max_bulk_records = 5
    services.settings.bulk_batch_records = 2
    body = ndjson([shopify_product(n) for n in range(8)])
    response = await api.post("/ingest/products", content=body, headers=headers(tenant))
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["code"] == "too_many_records"
    job = await job_row(services)
    assert job.status == "FAILED"
    assert "too_many_records" in (job.failure_reason or "")
    assert await count(services, StagedRecord) == 0


async def test_native_records_stream_with_the_platform_parameter(api, services, tenant):
    response = await api.post(
        "/ingest/products?platform=shopify", content=ndjson(shopify_page()), headers=headers(tenant)
    )
    assert response.status_code == 202, response.text
    assert (await job_row(services, response.json()["id"])).source_platform == "shopify"
    unsupported = await api.post(
        "/ingest/campaigns?platform=shopify", content=ndjson([{}]), headers=headers(tenant)
    )
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == "unsupported_mapping"
    await drain(services)


async def test_a_stream_retried_with_its_idempotency_key_is_replayed(api, services, tenant):
    records = [shopify_product(n) for n in range(5)]
    keyed = headers(tenant, **{"Idempotency-Key": "bulk-1"})
    first = await api.post("/ingest/products", content=ndjson(records), headers=keyed)
    again = await api.post("/ingest/products", content=ndjson(records), headers=keyed)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    # The same records as a JSON envelope are the same request.
    as_json = await api.post(
        "/ingest/products",
        json={"records": records},
        headers={**tenant.headers, "Idempotency-Key": "bulk-1"},
    )
    assert as_json.status_code == 200
    assert as_json.json()["id"] == first.json()["id"]
    other = await api.post("/ingest/products", content=ndjson(records[:4]), headers=keyed)
    assert other.status_code == 409
    assert other.json()["error"]["param"] == "Idempotency-Key"
    assert await count(services, IngestJob) == 1
    await drain(services)


Receive = Callable[[], Awaitable[dict[str, Any]]]


async def call(services: Services, tenant: Tenant, receive: Receive, key: str = "") -> int:
    """The app called the way a server calls it, so the test controls the body's arrival."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    extra = [(b"idempotency-key", key.encode())] if key else []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/ingest/products",
        "raw_path": b"/ingest/products",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway.test"),
            (b"authorization", tenant.headers["Authorization"].encode()),
            (b"content-type", NDJSON.encode()),
            *extra,
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("gateway.test", 80),
    }
    await create_app(services.settings, services)(scope, receive, send)  # type: ignore[arg-type]
    return int(sent[0]["status"])


async def test_received_grows_while_streaming_and_the_job_waits_for_the_end(api, services, tenant):
    services.settings.bulk_batch_records = 100
    chunks = [ndjson([shopify_product(n) for n in range(s, s + 250)]) for s in (0, 250, 500)]
    seen: list[tuple[int, str, bool]] = []

    async def receive() -> dict[str, Any]:
        job = await _newest(services)
        if job is not None:
            seen.append((job.received, job.status, job.dispatched_at is None))
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    assert await call(services, tenant, receive) == 202
    # The job exists before the first line; after 250 and 500 lines the full batches are
    # stored, and it is not dispatched before the end.
    assert seen == [(0, "QUEUED", True), (200, "QUEUED", True), (500, "QUEUED", True)]
    job = await _newest(services)
    assert job is not None and job.received == 750 and job.dispatched_at is not None
    await drain(services)


async def _newest(services: Services) -> IngestJob | None:
    async with services.sessions() as session:
        return await session.scalar(select(IngestJob).order_by(IngestJob.id.desc()).limit(1))


async def test_a_client_that_goes_away_leaves_a_failed_job_and_nothing_staged(
    api, services, tenant
):
    services.settings.bulk_batch_records = 100
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": ndjson([shopify_product(n) for n in range(250)])},
        {"type": "http.request", "body": orjson.dumps(shopify_product(250))[:40]},
        {"type": "http.disconnect"},
    ]
    for message in messages[:2]:
        message["more_body"] = True

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    await call(services, tenant, receive, key="upload-7")
    job = await _newest(services)
    assert job is not None
    assert job.status == "FAILED"
    assert job.failure_reason == (
        "The upload was interrupted (the client closed the connection) after line 250 (250 "
        "records read); nothing of it was processed. Send the whole stream again."
    )
    assert job.idempotency_key is None
    assert await count(services, StagedRecord) == 0
    await drain(services)
    assert (await job_row(services, job.id)).status == "FAILED"  # never dispatched

    # The key is free for the retry.
    retry = await api.post(
        "/ingest/products",
        content=ndjson([shopify_product(1)]),
        headers=headers(tenant, **{"Idempotency-Key": "upload-7"}),
    )
    assert retry.status_code == 202
    await drain(services)


async def test_a_client_that_stops_sending_is_cut_off_after_the_idle_timeout(api, services, tenant):
    services.settings.upload_idle_timeout_seconds = 0.2
    first = {"type": "http.request", "body": ndjson([shopify_product(1)]), "more_body": True}
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if first["body"]:
            message, first["body"] = dict(first), b""
            return message
        await never.wait()  # the client keeps the connection open and sends nothing
        raise AssertionError("unreachable")

    assert await call(services, tenant, receive) == 400
    job = await _newest(services)
    assert job is not None and job.status == "FAILED"
    assert (job.failure_reason or "").startswith(
        "The upload was interrupted (no data arrived for 0.2 s) after line 1"
    )


async def test_an_upload_whose_process_died_is_failed_when_the_next_one_begins(
    api, services, tenant
):
    other = await create_tenant(services, "Other")
    orphans = []
    for owner in (tenant, other):
        async with services.sessions() as session, session.begin():
            orphan = IngestJob(
                id=new_id("job"),
                client_id=owner.client_id,
                livemode=False,
                entity="product",
                door="rest",
                status="QUEUED",
                request_hash="",
                received=1000,
                created_at=datetime.now(UTC) - timedelta(hours=1),
                dispatched_at=None,
                lease_expires_at=datetime.now(UTC) - timedelta(minutes=1),
            )
            session.add(orphan)
        orphans.append(orphan.id)
    retry = await api.post(
        "/ingest/products", content=ndjson([shopify_product(1)]), headers=headers(tenant)
    )
    assert retry.status_code == 202
    mine, theirs = [await job_row(services, job_id) for job_id in orphans]
    assert mine.status == "FAILED"
    assert (mine.failure_reason or "").startswith("The upload stopped arriving")
    assert theirs.status == "QUEUED"  # another tenant's upload is not this one's business
    await drain(services)


async def test_a_gzip_json_envelope_is_accepted_too(api, services, tenant):
    body = gzip.compress(orjson.dumps({"records": [shopify_product(1), shopify_product(2)]}))
    response = await api.post(
        "/ingest/products",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["counters"]["received"] == 2
    await drain(services)
