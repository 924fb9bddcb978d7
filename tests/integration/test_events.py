"""Change events out, through the API a partner uses and a real subscriber HTTP server: signed
per Standard Webhooks (verified with the reference `standardwebhooks` package), retried, recorded,
rotated, replayed, tenant-scoped, and never in the way of ingestion."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.events import service as events_service
from app.events.catalog import EventType
from app.events.claims import claim_due, fan_out
from app.events.models import WebhookEndpoint
from app.events.outbox import record_event
from app.services import Services
from app.settings import Settings
from app.tenancy.models import Tenant as TenantScope
from tests.conftest import (
    REDIS_URL,
    GraphQL,
    Tenant,
    _truncate_all,
    create_tenant,
    make_settings,
    require_service,
)
from tests.helpers import (
    api_process,
    arq_settings,
    burst_worker,
    drain,
    eventually,
    ingest_mutation,
    shopify_product,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Subscriber:
    base_url: str
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [request for request in self.received if request.path == path]

    def keep(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            return sum(1 for seen in self.received if seen.path == request.path)

    async def wait_for(self, path: str, count: int = 1, within: float = 20) -> list[Received]:
        deadline = time.monotonic() + within
        while len(self.at(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} got {len(self.at(path))} of {count} requests")
            await asyncio.sleep(0.02)
        return self.at(path)


def _handler(subscriber: Subscriber) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            request = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            seen = subscriber.keep(request)
            if self.path == "/hang":
                subscriber.release.wait(timeout=30)
            status = {"/flaky": 500 if seen == 1 else 200, "/gone": 410}.get(self.path, 200)
            body = b'{"received": true}' if status == 200 else b"temporarily broken"
            try:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the gateway gave up waiting (its timeout) and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    subscriber = Subscriber(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(subscriber))
    server.daemon_threads = True
    subscriber.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield subscriber
    subscriber.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


SLOW_SUBSCRIBERS_WAITED_FOR = 30.0


@pytest.fixture
def settings(database_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> Settings:
    patient = "patient" in request.fixturenames  # a subscriber gets longer than the test runs
    return make_settings(
        database_url,
        sandbox_blob_dir=tmp_path / "blobs",
        event_delivery_timeout_seconds=SLOW_SUBSCRIBERS_WAITED_FOR if patient else 0.5,
        event_delivery_retry_schedule_seconds=[0.1, 0.1],
        event_delivery_poll_interval_seconds=0.05,
        sandbox_airtable_requests_per_second=1000.0,
        secret_key="test-secret-key",
    )


CREATE = """mutation Create($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url eventTypes enabled description }
    secret
    errors { code message path }
  }
}"""
UPDATE = """mutation Update($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) {
    endpoint { id enabled eventTypes disabledReason } errors { code message path }
  }
}"""
ROTATE = """mutation Rotate($input: RotateWebhookEndpointSecretInput!) {
  rotateWebhookEndpointSecret(input: $input) {
    endpoint { id previousSecretExpiresAt } secret errors { code message path }
  }
}"""
DELETE = """mutation Delete($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) { deletedId errors { code message path } }
}"""
REPLAY = """mutation Replay($input: ReplayEventsInput!) {
  replayEvents(input: $input) { events deliveries errors { code message path } }
}"""
DELIVERIES = """query Deliveries($endpointId: ID, $status: EventDeliveryStatus) {
  eventDeliveries(endpointId: $endpointId, status: $status, first: 50) {
    nodes {
      id eventId eventType endpointId status attemptCount lastStatusCode lastError deliveredAt
      attempts { startedAt durationMs statusCode error responseExcerpt }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""
EVENTS = """query Events($type: String) {
  events(type: $type, first: 50) { nodes { id type createdAt body } }
}"""
ENDPOINTS = "{ webhookEndpoints { nodes { id url enabled eventTypes } } }"


async def create_endpoint(
    gql: GraphQL, tenant: Tenant, url: str, event_types: list[str] | None = None
) -> tuple[str, str]:
    data = await gql(
        CREATE,
        {"input": {"url": url, "eventTypes": event_types or ["job.completed"]}},
        key=tenant.secret,
    )
    created = data["createWebhookEndpoint"]
    assert created["errors"] == [], created["errors"]
    return created["endpoint"]["id"], created["secret"]


async def ingest(gql: GraphQL, services: Services, tenant: Tenant, number: int = 1) -> str:
    records = [shopify_product(number)]
    data = await gql(ingest_mutation("product"), {"input": {"records": records}}, key=tenant.secret)
    await drain(services)
    return str(data["ingestProducts"]["job"]["id"])


async def deliveries(gql: GraphQL, tenant: Tenant, endpoint_id: str) -> list[dict[str, Any]]:
    data = await gql(DELIVERIES, {"endpointId": endpoint_id}, key=tenant.secret)
    return list(data["eventDeliveries"]["nodes"])


async def settled(gql: GraphQL, tenant: Tenant, endpoint_id: str, count: int = 1) -> list[Any]:
    """The endpoint's deliveries once `count` of them are no longer pending."""
    deadline = time.monotonic() + 20
    while True:
        found = await deliveries(gql, tenant, endpoint_id)
        done = [d for d in found if d["status"] != "PENDING"]
        if len(done) >= count:
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


async def test_a_finished_ingest_job_reaches_the_subscriber_signed(
    gql, services, tenant, subscriber
):
    endpoint_id, secret = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    assert secret.startswith("whsec_")

    job_id = await ingest(gql, services, tenant)

    [request] = await subscriber.wait_for("/ok")
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "job.completed"
    assert payload["data"]["job_id"] == job_id
    assert payload["data"]["status"] == "SUCCEEDED"
    assert payload["data"]["counters"]["written"] == 1
    [event] = (await gql(EVENTS, {"type": "job.completed"}, key=tenant.secret))["events"]["nodes"]
    assert request.headers["webhook-id"] == event["id"]
    assert event["body"] == payload
    [delivery] = await settled(gql, tenant, endpoint_id)
    assert delivery["status"] == "SUCCEEDED"
    assert delivery["attempts"][0]["statusCode"] == 200


async def test_the_signing_secret_is_shown_once_and_stored_encrypted(
    gql, services, tenant, subscriber
):
    endpoint_id, secret = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    listed = (await gql(ENDPOINTS, key=tenant.secret))["webhookEndpoints"]["nodes"]
    assert [e["id"] for e in listed] == [endpoint_id]
    assert secret not in str(listed)
    async with services.sessions() as session:
        stored = await session.get(WebhookEndpoint, endpoint_id)
    assert stored is not None
    assert secret.removeprefix("whsec_") not in stored.secret


async def test_a_500_is_retried_and_every_attempt_is_recorded(gql, services, tenant, subscriber):
    endpoint_id, secret = await create_endpoint(gql, tenant, subscriber.url("/flaky"))

    await ingest(gql, services, tenant)

    first, second = await subscriber.wait_for("/flaky", count=2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    Webhook(secret).verify(second.body, second.headers)
    [delivery] = await settled(gql, tenant, endpoint_id)
    assert delivery["status"] == "SUCCEEDED"
    assert delivery["attemptCount"] == 2
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["attempts"][0]["error"] == "The endpoint answered HTTP 500."
    assert delivery["attempts"][0]["responseExcerpt"] == "temporarily broken"


async def test_a_subscriber_that_never_answers_is_cut_off_and_retried_until_the_schedule_ends(
    gql, services, tenant, subscriber
):
    endpoint_id, _ = await create_endpoint(gql, tenant, subscriber.url("/hang"))

    await ingest(gql, services, tenant)

    [delivery] = await settled(gql, tenant, endpoint_id)
    assert delivery["status"] == "FAILED"
    assert delivery["attemptCount"] == 3  # the first attempt and the two scheduled retries
    assert {a["error"] for a in delivery["attempts"]} == {"No response within 0.5 s."}
    assert len(subscriber.at("/hang")) == 3


@pytest.fixture
def patient() -> None:
    """Marks a test whose subscriber may take up to SLOW_SUBSCRIBERS_WAITED_FOR to answer."""


async def test_ingestion_finishes_while_a_subscriber_is_still_hanging(
    patient, gql, services, tenant, subscriber
):
    endpoint_id, _ = await create_endpoint(gql, tenant, subscriber.url("/hang"))
    await ingest(gql, services, tenant, number=1)
    await subscriber.wait_for("/hang")  # the first job's event is in flight, not answered

    second_job = await ingest(gql, services, tenant, number=2)

    query = "query($id: ID!) { job(id: $id) { status } }"
    job = await gql(query, {"id": second_job}, key=tenant.secret)
    assert job["job"]["status"] == "SUCCEEDED"

    async def both_recorded() -> list[dict[str, Any]] | None:  # the relay fans events out
        found = await deliveries(gql, tenant, endpoint_id)
        return found if len(found) == 2 else None

    recorded = await eventually(both_recorded, within=20)
    # neither the hanging delivery nor the one queued behind it ended
    assert [d["attemptCount"] for d in recorded] == [0, 0]
    subscriber.release.set()
    assert {d["status"] for d in await settled(gql, tenant, endpoint_id, count=2)} == {"SUCCEEDED"}


async def test_during_a_rotation_both_secrets_verify_and_afterwards_only_the_new_one(
    gql, services, tenant, subscriber
):
    endpoint_id, old = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    rotated = (
        await gql(
            ROTATE,
            {"input": {"id": endpoint_id, "previousSecretValidForSeconds": 3600}},
            key=tenant.secret,
        )
    )["rotateWebhookEndpointSecret"]
    new = rotated["secret"]
    assert rotated["errors"] == [] and new != old
    assert rotated["endpoint"]["previousSecretExpiresAt"] is not None

    await ingest(gql, services, tenant, number=1)
    [during] = await subscriber.wait_for("/ok")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)

    newest = (
        await gql(
            ROTATE,
            {"input": {"id": endpoint_id, "previousSecretValidForSeconds": 0}},
            key=tenant.secret,
        )
    )["rotateWebhookEndpointSecret"]["secret"]
    await ingest(gql, services, tenant, number=2)
    _, after = await subscriber.wait_for("/ok", count=2)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(newest).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(after.body, after.headers)


async def test_events_are_replayed_by_id_and_by_time_range_with_the_same_webhook_id(
    gql, services, tenant, subscriber
):
    endpoint_id, secret = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    await ingest(gql, services, tenant, number=1)
    [original] = await subscriber.wait_for("/ok")
    await settled(gql, tenant, endpoint_id)
    event_id = original.headers["webhook-id"]

    by_id = (await gql(REPLAY, {"input": {"eventIds": [event_id]}}, key=tenant.secret))[
        "replayEvents"
    ]
    assert by_id == {"events": 1, "deliveries": 1, "errors": []}
    _, replayed = await subscriber.wait_for("/ok", count=2)
    assert replayed.headers["webhook-id"] == event_id
    assert Webhook(secret).verify(replayed.body, replayed.headers) == Webhook(secret).verify(
        original.body, original.headers
    )

    [event] = (await gql(EVENTS, key=tenant.secret))["events"]["nodes"]
    by_range = (
        await gql(
            REPLAY,
            {"input": {"since": event["createdAt"], "endpointId": endpoint_id}},
            key=tenant.secret,
        )
    )["replayEvents"]
    assert by_range == {"events": 1, "deliveries": 1, "errors": []}
    await subscriber.wait_for("/ok", count=3)
    assert {r.headers["webhook-id"] for r in subscriber.at("/ok")} == {event_id}
    [delivery] = await settled(gql, tenant, endpoint_id)
    assert delivery["attemptCount"] == 3

    empty = (
        await gql(
            REPLAY,
            {"input": {"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}},
            key=tenant.secret,
        )
    )["replayEvents"]
    assert empty == {"events": 0, "deliveries": 0, "errors": []}


async def test_a_disabled_endpoint_gets_nothing(gql, services, tenant, subscriber):
    active_id, _ = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    disabled_id, _ = await create_endpoint(gql, tenant, subscriber.url("/flaky"))
    updated = (
        await gql(UPDATE, {"input": {"id": disabled_id, "enabled": False}}, key=tenant.secret)
    )["updateWebhookEndpoint"]
    assert updated["endpoint"]["enabled"] is False

    await ingest(gql, services, tenant)

    await subscriber.wait_for("/ok")
    await settled(gql, tenant, active_id)
    assert subscriber.at("/flaky") == []
    assert await deliveries(gql, tenant, disabled_id) == []
    replay = (
        await gql(
            REPLAY,
            {"input": {"since": "2020-01-01T00:00:00Z", "endpointId": disabled_id}},
            key=tenant.secret,
        )
    )["replayEvents"]
    assert [e["code"] for e in replay["errors"]] == ["endpoint_disabled"]


async def test_only_subscribed_event_types_are_sent(gql, services, tenant, subscriber):
    endpoint_id, _ = await create_endpoint(
        gql, tenant, subscriber.url("/flaky"), ["client.provisioned"]
    )
    watching_id, _ = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    await ingest(gql, services, tenant)
    await subscriber.wait_for("/ok")
    await settled(gql, tenant, watching_id)
    assert await deliveries(gql, tenant, endpoint_id) == []
    assert subscriber.at("/flaky") == []


async def test_a_410_disables_the_endpoint(gql, services, tenant, subscriber):
    endpoint_id, _ = await create_endpoint(gql, tenant, subscriber.url("/gone"))
    await ingest(gql, services, tenant)
    [delivery] = await settled(gql, tenant, endpoint_id)
    assert delivery["status"] == "FAILED"
    assert delivery["attemptCount"] == 1
    listed = (await gql(ENDPOINTS, key=tenant.secret))["webhookEndpoints"]["nodes"]
    assert listed[0]["enabled"] is False


async def test_another_clients_endpoints_and_events_answer_like_missing_ones(
    gql, services, tenant, subscriber
):
    endpoint_id, _ = await create_endpoint(gql, tenant, subscriber.url("/ok"))
    await ingest(gql, services, tenant)
    [request] = await subscriber.wait_for("/ok")
    event_id = request.headers["webhook-id"]
    other = await create_tenant(services, "Other Co")

    async def answers(endpoint: str, event: str) -> list[Any]:
        update = await gql(UPDATE, {"input": {"id": endpoint, "enabled": False}}, key=other.secret)
        rotate = await gql(ROTATE, {"input": {"id": endpoint}}, key=other.secret)
        delete = await gql(DELETE, {"input": {"id": endpoint}}, key=other.secret)
        replay_to = await gql(
            REPLAY, {"input": {"eventIds": [event], "endpointId": endpoint}}, key=other.secret
        )
        replay = await gql(REPLAY, {"input": {"eventIds": [event]}}, key=other.secret)
        listed = await gql(DELIVERIES, {"endpointId": endpoint}, key=other.secret)
        return [update, rotate, delete, replay_to, replay, listed]

    assert await answers(endpoint_id, event_id) == await answers("we_missing", "evt_missing")
    assert (await gql(EVENTS, key=other.secret))["events"]["nodes"] == []
    assert (await gql(ENDPOINTS, key=other.secret))["webhookEndpoints"]["nodes"] == []
    assert (await gql(ENDPOINTS, key=tenant.secret))["webhookEndpoints"]["nodes"][0]["enabled"]


async def test_endpoint_urls_and_event_types_are_checked(gql, services, tenant):
    live = await create_tenant(services, "Live Co", mode="live")

    async def refusal(key: Tenant, url: str, types: list[str] | None = None) -> list[Any]:
        data = await gql(
            CREATE,
            {"input": {"url": url, "eventTypes": types or ["job.completed"]}},
            key=key.secret,
        )
        created = data["createWebhookEndpoint"]
        assert (created["secret"] is None) == bool(created["errors"])
        return [(e["code"], e["path"]) for e in created["errors"]]

    url_refused = [("invalid_endpoint_url", "url")]
    assert await refusal(live, "http://93.184.216.34/hook") == url_refused
    assert await refusal(live, "https://127.0.0.1/hook") == url_refused
    assert await refusal(live, "https://10.1.2.3/hook") == url_refused
    assert await refusal(live, "https://169.254.169.254/latest") == url_refused
    assert await refusal(live, "https://[::ffff:192.168.0.1]/hook") == url_refused
    assert await refusal(live, "https://93.184.216.34/hook") == []
    assert await refusal(tenant, "http://127.0.0.1:9/hook") == []
    assert await refusal(tenant, "ftp://example.com/hook") == url_refused
    assert await refusal(tenant, "https://example.com/hook", ["order.paid"]) == [
        ("unknown_event_type", "eventTypes")
    ]


async def test_provisioning_a_client_emits_client_provisioned(live_gateway, tenant, subscriber):
    async with httpx.AsyncClient(base_url=live_gateway.url, timeout=30) as client:
        gateway = GraphQL(client)
        await create_endpoint(gateway, tenant, subscriber.url("/ok"), ["client.provisioned"])
        mutation = "mutation { provisionClient { provisioning { baseId } errors { code } } }"
        provisioned = (await gateway(mutation, key=tenant.secret))["provisionClient"]
        assert provisioned["errors"] == []
        await gateway(mutation, key=tenant.secret)  # a rerun changes nothing, emits nothing

        [request] = await subscriber.wait_for("/ok")
        recorded = await gateway(EVENTS, {"type": "client.provisioned"}, key=tenant.secret)
    assert len(recorded["events"]["nodes"]) == 1
    body = orjson.loads(request.body)
    assert body["type"] == "client.provisioned"
    assert body["data"]["client_id"] == tenant.client_id
    assert body["data"]["base_id"] == provisioned["provisioning"]["baseId"]


async def test_two_workers_never_claim_the_same_delivery(services, tenant):
    """Leases: concurrent claimers (separate connections) split the due deliveries."""
    scope = TenantScope(tenant.client_id, livemode=False)
    async with services.sessions() as session, session.begin():
        created = await events_service.create_endpoint(
            session, services.settings, scope, "http://127.0.0.1:9/hook", ["job.completed"], None
        )
        for number in range(60):
            record_event(session, scope, EventType.JOB_COMPLETED, job_payload(number))
    await fan_out(services.sessions)

    claimed = await asyncio.gather(
        *(claim_due(services.sessions, services.settings, 25) for _ in range(4))
    )

    ids = [claim.delivery_id for batch in claimed for claim in batch]
    assert len(ids) == len(set(ids)) == 60
    assert {claim.endpoint_id for batch in claimed for claim in batch} == {created.endpoint.id}
    assert await claim_due(services.sessions, services.settings, 25) == []


def job_payload(number: int) -> dict[str, Any]:
    return {
        "job_id": f"job_{number}",
        "entity": "product",
        "status": "SUCCEEDED",
        "counters": {
            "received": 1,
            "valid": 1,
            "quarantined": 0,
            "unchanged": 0,
            "stale": 0,
            "written": 1,
            "held": 0,
        },
        "request_id": None,
        "finished_at": "2026-11-25T10:00:00Z",
    }


@pytest.fixture
async def events_settings(postgres_database: str) -> AsyncIterator[Settings]:
    redis_url = require_service(REDIS_URL, "redis")
    await _truncate_all(postgres_database)
    async with arq_settings(
        postgres_database, redis_url, event_delivery_timeout_seconds=2.0
    ) as settings:
        yield settings


@pytest.fixture
async def scale_out_api(events_settings: Settings) -> AsyncIterator[tuple[Services, GraphQL]]:
    async with api_process(events_settings) as api:
        yield api


@pytest.mark.postgres
@pytest.mark.redis
async def test_an_arq_worker_delivers_the_event_of_the_job_it_finished(
    scale_out_api: Any, events_settings: Settings, subscriber: Subscriber
) -> None:
    services, gql = scale_out_api
    tenant = await create_tenant(services)
    created = await gql(
        CREATE,
        {"input": {"url": subscriber.url("/ok"), "eventTypes": ["job.completed"]}},
        key=tenant.secret,
    )
    secret = created["createWebhookEndpoint"]["secret"]
    data = await gql(
        ingest_mutation("product"), {"input": {"records": [shopify_product(1)]}}, key=tenant.secret
    )
    job_id = data["ingestProducts"]["job"]["id"]

    await burst_worker(events_settings)  # runs the job, then the delivery task it enqueued
    # A burst worker may stop before its own enqueue lands (shutdown waits for it): a second
    # one then finds the task. Either way, no cron is involved.
    await burst_worker(events_settings)

    [request] = await subscriber.wait_for("/ok")
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "job.completed"
    assert payload["data"]["job_id"] == job_id
