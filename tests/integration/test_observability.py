"""Operators see the gateway's state before a client notices: /metrics in Prometheus format,
/health and /ready, and one trace id carried from a partner's call to its job, to the AMS write and
out in the change events. Counters are process-wide, so tests compare before and after."""

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.asgi import create_app
from app.db.models import IngestJob
from app.events.models import DeliveryStatus, Event, EventDelivery, WebhookEndpoint
from app.ids import new_id
from app.integrations.airtable import PyAirtableClient
from app.integrations.errors import AmsRequestError
from app.integrations.sandbox_tokens import sandbox_token
from app.observability.exposition import serve_worker_metrics
from app.observability.readiness import check_readiness
from app.quarantine.models import QuarantinedRecord, QuarantineStatus
from app.services import Services
from app.settings import AirtableFault, Settings
from tests.conftest import GraphQL, create_tenant, make_settings, require_service
from tests.helpers import ingest_mutation, shopify_product
from tests.integration.test_ams_sync import (
    Gateway,
    ams_settings,
    eventually,
    serve,
    synced_after,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def metric_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return metric_values(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return make_settings(
        database_url, sandbox_blob_dir=tmp_path / "blobs", metrics_database_refresh_seconds=0
    )


@pytest.fixture
async def idle_api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its workers not started: queued jobs stay queued."""
    transport = httpx.ASGITransport(app=create_app(services.settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


# --- /metrics: database gauges -----------------------------------------------------------------


def _job(client_id: str, status: str, created: datetime, **values: Any) -> IngestJob:
    return IngestJob(
        id=new_id("job"),
        client_id=client_id,
        livemode=False,
        entity="product",
        door="graphql",
        status=status,
        request_hash="0" * 64,
        created_at=created,
        **values,
    )


def _quarantined(client_id: str, job_id: str, status: str, at: datetime) -> QuarantinedRecord:
    return QuarantinedRecord(
        id=new_id("qr"),
        client_id=client_id,
        livemode=False,
        job_id=job_id,
        position=0,
        entity="product",
        status=status,
        errors=[],
        created_at=at,
        updated_at=at,
    )


def _failed_delivery(client_id: str, at: datetime) -> list[Any]:
    event = Event(
        id=new_id("evt"), client_id=client_id, livemode=False, type="job.completed", body="{}"
    )
    event.created_at = at
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        client_id=client_id,
        livemode=False,
        url="https://hooks.example.com/in",
        event_types=["job.completed"],
        enabled=True,
        secret="encrypted",
        created_at=at,
        updated_at=at,
    )
    delivery = EventDelivery(
        id=new_id("del"),
        event_id=event.id,
        endpoint_id=endpoint.id,
        client_id=client_id,
        livemode=False,
        event_type="job.completed",
        status=DeliveryStatus.FAILED.value,
        attempts=8,
        retry_step=8,
        created_at=at,
        updated_at=at,
    )
    return [event, endpoint, delivery]


async def test_metrics_report_queue_quarantine_and_dead_letters_from_the_database(
    idle_api, services
):
    tenant = await create_tenant(services, "Gauges Client")
    now = datetime.now(UTC)
    old = now - timedelta(days=3)
    cid = tenant.client_id
    oldest = _job(cid, "QUEUED", now - timedelta(minutes=10))
    crashed = dict(attempts=5, failure_reason="Processing failed 5 times (OSError).")
    rows: list[Any] = [
        oldest,
        _job(cid, "QUEUED", now - timedelta(minutes=1)),
        _job(cid, "PROCESSING", now),
        _job(cid, "FAILED", now, finished_at=now, **crashed),  # a dead letter
        _job(cid, "FAILED", old, finished_at=old, **crashed),  # outside the window
        _job(cid, "FAILED", now, finished_at=now, attempts=1),  # all quarantined: not dead
    ]
    rows += [_quarantined(cid, oldest.id, QuarantineStatus.OPEN.value, now) for _ in range(3)]
    rows.append(_quarantined(cid, oldest.id, QuarantineStatus.EXHAUSTED.value, now))
    rows.append(_quarantined(cid, oldest.id, QuarantineStatus.RESOLVED.value, now))
    rows += _failed_delivery(cid, now) + _failed_delivery(cid, now)
    async with services.sessions() as session, session.begin():
        for row in rows:
            session.add(row)
            await session.flush()

    response = await idle_api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert value(text, "gateway_jobs", status="queued") == 2
    assert value(text, "gateway_jobs", status="processing") == 1
    assert 9 * 60 < value(text, "gateway_jobs_oldest_queued_age_seconds") < 60 * 60
    assert value(text, "gateway_quarantine_open") == 3
    assert value(text, "gateway_dead_letters", kind="job") == 1
    assert value(text, "gateway_dead_letters", kind="quarantine") == 1
    assert value(text, "gateway_dead_letters", kind="event_delivery") == 2
    assert "Gauges Client" not in text and cid not in text


async def test_metrics_can_be_switched_off_or_kept_to_the_scrapers_network(services):
    async def status(**overrides: Any) -> int:
        settings = services.settings.model_copy(update=overrides)
        configured = Services(settings, services.engine, services.sessions, services.dispatcher)
        app = create_app(settings, configured)
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            return (await c.get("/metrics")).status_code

    assert await status() == 200
    assert await status(metrics_enabled=False) == 404
    assert await status(metrics_allowed_networks=[ip_network("192.168.0.0/16")]) == 404
    assert await status(metrics_allowed_networks=[ip_network("10.0.0.0/8")]) == 200


# --- /metrics: requests by door and operation --------------------------------------------------


async def test_requests_are_counted_by_door_and_bounded_operation(api, gql, tenant):
    before = (await api.get("/metrics")).text
    await gql("{ viewer { mode } }", key=tenant.secret)
    await gql("query Mine { viewer { mode } }", key=tenant.secret)  # a partner's name: not a label
    await gql("{ a: viewer { mode } b: viewer { mode } }", key=tenant.secret)
    await gql.raw("{ notAField }", key=tenant.secret)
    missing = await api.get(f"/jobs/{new_id('job')}", headers=tenant.headers)
    refused = await api.get("/jobs", headers={"Authorization": "Bearer gw_test_wrong"})
    after = (await api.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    viewer = {"door": "graphql", "operation": "query viewer", "status": "200"}
    assert grew("gateway_requests_total", **viewer) == 2
    several = {"door": "graphql", "operation": "query (several)", "status": "200"}
    assert grew("gateway_requests_total", **several) == 1
    assert grew("gateway_requests_total", door="graphql", operation="invalid", status="200") == 1
    assert missing.status_code == 404 and refused.status_code == 401
    job = {"door": "rest", "operation": "GET /jobs/{id}"}
    assert grew("gateway_requests_total", **job, status="404") == 1
    assert grew("gateway_requests_total", door="rest", operation="GET /jobs", status="401") == 1
    assert grew("gateway_request_duration_seconds_count", door="graphql", operation="query viewer")
    assert "Mine" not in after and tenant.client_id not in after and tenant.secret not in after
    assert not any(name.startswith("/health") for name in after.splitlines())


# --- issue 6: an unhealthy partner connection raises an alert ---------------------------------

REPORT_HEALTH = """
mutation($input: ReportConnectionHealthInput!) {
  reportConnectionHealth(input: $input) { connection { status } errors { code } }
}"""
EVENTS = "query($type: String) { events(type: $type, first: 20) { nodes { type body } } }"


async def test_an_unhealthy_connection_emits_an_event_and_moves_the_gauge(api, gql, tenant):
    async def report(status: str) -> None:
        variables = {"input": {"platform": "SHOPIFY", "status": status, "detail": "token expired"}}
        await gql(REPORT_HEALTH, variables, key=tenant.secret)

    async def gauge() -> float:
        text = (await api.get("/metrics")).text
        return value(text, "gateway_partner_connection_unhealthy", platform="shopify", mode="test")

    async def bodies(type_: str) -> list[dict[str, Any]]:
        data = await gql(EVENTS, {"type": type_}, key=tenant.secret)
        return [node["body"] for node in data["events"]["nodes"]]

    await report("HEALTHY")
    assert await gauge() == 0
    await report("STALE")
    assert await gauge() == 1
    await report("STALE")  # still stale: no second alert
    await report("REVOKED")
    unhealthy = await bodies("connection.unhealthy")
    assert [body["data"]["status"] for body in unhealthy] == ["REVOKED", "STALE"]
    assert unhealthy[1]["data"]["previous_status"] == "HEALTHY"
    assert "detail" not in unhealthy[1]["data"]  # free text stays in syncHealth

    await report("HEALTHY")
    assert await gauge() == 0
    recovered = await bodies("connection.recovered")
    assert [body["data"]["previous_status"] for body in recovered] == ["REVOKED"]


# --- /health and /ready ------------------------------------------------------------------------


async def test_health_is_liveness_and_ready_names_the_check_that_failed(idle_api, services):
    assert (await idle_api.get("/health")).json() == {"status": "ok"}
    response = await idle_api.get("/ready")  # the sandbox URL (port 8000) has no server here
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable" and body["failed"] == ["sandbox"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["sandbox"]["ok"] is False and body["checks"]["sandbox"]["error"]


async def test_ready_checks_the_sandbox_over_http(live_gateway):
    async with httpx.AsyncClient(base_url=live_gateway.url) as client:
        response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["failed"] == []
    assert set(response.json()["checks"]) == {"database", "sandbox"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ready_checks_redis_when_jobs_go_through_it(services, settings):
    redis_url = require_service(os.environ.get("GATEWAY_TEST_REDIS_URL"), "Redis")
    checked = settings.model_copy(update={"redis_url": redis_url, "sandbox_enabled": False})
    results = {r.name: r for r in await check_readiness(checked, services.sessions)}
    assert results["redis"].ok and results["database"].ok

    down = checked.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    results = {r.name: r for r in await check_readiness(down, services.sessions)}
    assert not results["redis"].ok and results["database"].ok
    assert "127.0.0.1" not in (results["redis"].error or "")


# --- workers: their own metrics port -----------------------------------------------------------


def test_a_worker_serves_its_metrics_on_its_own_port(settings):
    port = _closed_port()
    server = serve_worker_metrics(settings.model_copy(update={"metrics_port": port}))
    assert server is not None
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert "# TYPE gateway_ams_requests_total counter" in response.text
    finally:
        server.shutdown()
        server.server_close()
    assert serve_worker_metrics(settings) is None  # no port set: nothing served


# --- one trace id from the partner's call to the AMS write -------------------------------------


@pytest.fixture
def traced_gateway(fast_sandbox_settings: Settings) -> Iterator[tuple[str, Settings, Any]]:
    served = serve(ams_settings(fast_sandbox_settings, log_level="INFO"))
    try:
        yield next(served)
    finally:
        next(served, None)


def _logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [
        r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == event
    ]


async def test_a_trace_id_flows_from_the_request_to_the_job_the_ams_write_and_the_events(
    traced_gateway, services, caplog
):
    caplog.set_level(logging.INFO)
    url, server_settings, traffic = traced_gateway
    acme = await create_tenant(services, "Acme Outdoor", "test")
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        gql = GraphQL(client)
        before = (await client.get("/metrics")).text
        variables = {"input": {"records": [shopify_product(n) for n in range(3)]}}
        response = await client.post(
            "/graphql",
            json={"query": ingest_mutation("product"), "variables": variables},
            headers={**acme.headers, "traceparent": TRACEPARENT},
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == TRACE
        job_id = response.json()["data"]["ingestProducts"]["job"]["id"]
        gateway = Gateway(url, server_settings, traffic, gql)
        await synced_after(gateway, acme, None)

        async def events() -> dict[str, dict[str, Any]] | None:
            data = await gql(EVENTS, {"type": None}, key=acme.secret)
            found = {node["type"]: node["body"] for node in data["events"]["nodes"]}
            return found if {"job.completed", "product.synced"} <= set(found) else None

        bodies = await eventually(events)
        after = (await client.get("/metrics")).text
        job = await gql_job(gql, acme.secret, job_id)

    assert job["requestId"] == TRACE
    assert bodies["job.completed"]["trace_id"] == TRACE
    assert bodies["product.synced"]["trace_id"] == TRACE
    assert any(line.get("trace_id") == TRACE for line in _logged(caplog, "job.started"))
    written = _logged(caplog, "ams.written")
    assert written and all(line["trace_id"] == TRACE for line in written)
    assert sum(line["records"] for line in written) == 3

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("gateway_sync_latency_seconds_count", entity="product") == 3
    assert grew("gateway_ingest_records_total", entity="product", outcome="valid") == 3
    assert grew("gateway_ingest_records_total", entity="product", outcome="written") == 3
    ingest = {"door": "graphql", "operation": "mutation ingestProducts", "status": "200"}
    assert grew("gateway_requests_total", **ingest) == 1
    ams = [
        (dict(labels), count)
        for (name, labels), count in metric_values(after).items()
        if name == "gateway_ams_requests_total"
    ]
    assert any(labels["base"].startswith("app") and labels["code"] == "200" for labels, _ in ams)
    assert "Acme Outdoor" not in after and acme.client_id not in after


async def gql_job(gql: GraphQL, key: str, job_id: str) -> dict[str, Any]:
    data = await gql(f'{{ job(id: "{job_id}") {{ requestId }} }}', key=key)
    return dict(data["job"])


def test_traceparent_parsing_follows_w3c():
    from app.observability.tracing import trace_id_from

    def parse(value: str) -> str | None:
        return trace_id_from([(b"traceparent", value.encode())])

    assert parse(TRACEPARENT) == TRACE
    assert parse(f"01-{TRACE}-00f067aa0ba902b7-01-future") == TRACE  # later versions may extend
    assert parse(f"00-{TRACE}-00f067aa0ba902b7-01-extra") is None
    assert parse(f"ff-{TRACE}-00f067aa0ba902b7-01") is None
    assert parse(f"00-{'0' * 32}-00f067aa0ba902b7-01") is None
    assert parse(f"00-{TRACE}-{'0' * 16}-01") is None
    assert parse(f"00-{TRACE.upper()}-00f067aa0ba902b7-01") is None
    assert parse("garbage") is None


# --- AMS requests per base: 429s and refused credentials --------------------------------------

BASE = "appObservability1"


@pytest.fixture
def faulty_sandbox(settings: Settings) -> Iterator[tuple[str, Settings]]:
    """A live gateway whose Airtable emulator answers its first accepted request with a 429."""
    faults = [AirtableFault(kind="429", count=1)]
    served = serve(settings.model_copy(update={"sandbox_airtable_faults": faults}))
    try:
        url, server_settings, _traffic = next(served)
        yield url, server_settings
    finally:
        next(served, None)


def _status(client: PyAirtableClient) -> int:
    try:
        client.list_records(BASE, "Products")
    except AmsRequestError as error:
        return error.status
    return 200


async def test_airtable_answers_are_counted_per_base_429s_and_refused_tokens_included(
    faulty_sandbox, services
):
    url, server_settings = faulty_sandbox
    tenant = await create_tenant(services)
    assert server_settings.secret_key
    token = sandbox_token(server_settings.secret_key, tenant.client_id)

    def ams(text: str, code: str) -> float:
        return value(text, "gateway_ams_requests_total", base=BASE, code=code)

    async with httpx.AsyncClient(base_url=url) as client:
        before = (await client.get("/metrics")).text
        endpoint = f"{url}/sandbox/airtable"
        valid, wrong = PyAirtableClient(token, endpoint), PyAirtableClient("wrong-token", endpoint)
        throttled = await asyncio.to_thread(_status, valid)
        refused = await asyncio.to_thread(_status, wrong)
        after = (await client.get("/metrics")).text

    assert (throttled, refused) == (429, 401)
    assert ams(after, "429") - ams(before, "429") == 1
    assert ams(after, "401") - ams(before, "401") == 1
    assert token not in after and tenant.client_id not in after
