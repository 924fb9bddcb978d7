"""Staged audience payloads keep the email and id they name in indexed columns (erasure finds a
person's raw payloads by them): through every door that stages records, in the platform's shape
or the standard one; other entities keep none."""

import orjson
from sqlalchemy import select

from app.db.models import StagedRecord
from app.services import Services
from tests.conftest import Tenant
from tests.helpers import drain, shopify_product
from tests.integration.test_privacy_erasure import audience

REPLAY = """mutation($ids: [ID!]) { replayQuarantined(ids: $ids) { errors { code message } } }"""
QUARANTINE = "query { quarantine(first: 10) { nodes { id } } }"


async def subjects(services: Services, job_id: str) -> list[tuple[str | None, str | None]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(StagedRecord.subject_email, StagedRecord.subject_external_id)
            .where(StagedRecord.job_id == job_id)
            .order_by(StagedRecord.position)
        )
    return [tuple(row) for row in rows]


async def test_a_json_push_keeps_each_persons_email_lower_cased_and_id(api, services, tenant):
    body = {"records": [audience("cus-1", "Ada@Example.COM"), audience("cus-2", "bob@example.com")]}
    response = await api.post("/ingest/audience", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    assert await subjects(services, response.json()["id"]) == [
        ("ada@example.com", "cus-1"),
        ("bob@example.com", "cus-2"),
    ]


async def test_a_platforms_own_shape_is_read_where_that_platform_puts_the_email(
    api, services, tenant
):
    contact = {
        "id": "5101",
        "properties": {"email": "Ada@Example.com", "lastmodifieddate": "2026-11-01T10:00:00Z"},
    }
    response = await api.post(
        "/ingest/audience?platform=hubspot", json={"records": [contact]}, headers=tenant.headers
    )
    assert response.status_code == 202, response.text
    assert await subjects(services, response.json()["id"]) == [("ada@example.com", "5101")]


async def test_an_ndjson_stream_keeps_them_too(api, services, tenant):
    people = [audience(f"cus-{n}", f"P{n}@example.com") for n in (1, 2)]
    lines = b"".join(orjson.dumps(record) + b"\n" for record in people)
    headers = {**tenant.headers, "Content-Type": "application/x-ndjson"}
    response = await api.post("/ingest/audience", content=lines, headers=headers)
    assert response.status_code == 202, response.text
    assert await subjects(services, response.json()["id"]) == [
        ("p1@example.com", "cus-1"),
        ("p2@example.com", "cus-2"),
    ]


async def test_products_keep_none(api, services, tenant):
    response = await api.post(
        "/ingest/products", json={"records": [shopify_product(1)]}, headers=tenant.headers
    )
    assert response.status_code == 202, response.text
    assert await subjects(services, response.json()["id"]) == [(None, None)]


async def test_an_overlong_value_is_not_kept(api, services, tenant):
    long_id = "x" * 600
    response = await api.post(
        "/ingest/audience",
        json={"records": [audience(long_id, "ada@example.com")]},
        headers=tenant.headers,
    )
    assert response.status_code == 202, response.text
    assert await subjects(services, response.json()["id"]) == [("ada@example.com", None)]


async def test_a_replayed_quarantined_person_keeps_them(api, services, tenant: Tenant):
    body = {"records": [audience("cus-9", "Nobody@Example.com", country="Narnia")]}
    response = await api.post("/ingest/audience", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    await drain(services)
    held = await api.post("/graphql", json={"query": QUARANTINE}, headers=tenant.headers)
    ids = [node["id"] for node in held.json()["data"]["quarantine"]["nodes"]]
    assert len(ids) == 1, held.text
    replayed = await api.post(
        "/graphql", json={"query": REPLAY, "variables": {"ids": ids}}, headers=tenant.headers
    )
    assert replayed.json()["data"]["replayQuarantined"]["errors"] == [], replayed.text
    async with services.sessions() as session:
        rows = await session.execute(
            select(StagedRecord.subject_email, StagedRecord.subject_external_id).where(
                StagedRecord.quarantine_id == ids[0]
            )
        )
    assert [tuple(row) for row in rows] == [("nobody@example.com", "cus-9")]
