"""Platforms deliver webhooks to a client's connection URL: verified on the raw body with that
connection's secret before anything is parsed, acted on once, turned into ingest jobs or change
notices. Signatures are computed here from known secrets exactly as each platform documents."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import func, select, update
from standardwebhooks import Webhook

from app.ams.models import ArchivedRecord
from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.db.models import IngestJob
from app.encryption import decrypt
from app.services import Services
from app.settings import Settings
from app.tenancy import service as tenancy
from app.transform.loader import mappings
from app.webhooks.ledger import DatabaseLedger
from app.webhooks.models import WebhookConnection, WebhookDelivery
from tests.conftest import GraphQL, Tenant, create_tenant, make_settings
from tests.helpers import JOB_QUERY, RECORDS_QUERY, drain
from tests.unit.transform.conftest import fixture

SHOPIFY_SECRET = "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"
WOO_SECRET = "wc-webhook-secret-7Hk2pQ"
HUBSPOT_SECRET = "0f8c2a4e-6b1d-4f3a-9e7c-5d2b8a1c3e6f"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"partner-forwarding-key-32-bytes!").decode()

SET_SECRET = """mutation Set($input: SetWebhookSecretInput!) {
  setWebhookSecret(input: $input) {
    connection { id platform url previousSecretValidUntil rejectedDeliveries lastRejectionCode }
    errors { code message path }
  }
}"""
CONNECTIONS = """query { webhookConnections {
  id platform url rejectedDeliveries lastRejectedAt lastRejectionCode
} }"""
NOTICES = """query Notices($source: SourcePlatform, $first: Int!, $after: String, $all: Boolean!) {
  webhookNotices(source: $source, first: $first, after: $after, includeAcknowledged: $all) {
    nodes { id source topic eventId reason message objectType objectId occurredAt payload
            acknowledgedAt }
    pageInfo { endCursor hasNextPage }
  }
}"""
ACKNOWLEDGE = """mutation Ack($input: AcknowledgeWebhookNoticesInput!) {
  acknowledgeWebhookNotices(input: $input) { acknowledged errors { code message path } }
}"""


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    """Connections are read on every delivery (no cache), so rotations show at once here."""
    return make_settings(
        database_url,
        sandbox_blob_dir=tmp_path / "blobs",
        webhook_secret_cache_seconds=0,
        max_records_per_call=5,
    )


@pytest.fixture
async def shop_tenant(services: Services, tenant: Tenant) -> Tenant:
    """A client whose Shopify store sells in EUR (Shopify products carry no currency)."""
    async with services.sessions() as session, session.begin():
        await tenancy.configure_client(session, tenant.client_id, currency="EUR", region="GB")
    return tenant


async def connect(
    gql: GraphQL,
    tenant: Tenant,
    platform: str,
    secret: str,
    previous_valid_until: datetime | None = None,
) -> dict[str, Any]:
    variables = {
        "input": {
            "platform": platform.upper(),
            "secret": secret,
            "previousSecretValidUntil": previous_valid_until.isoformat()
            if previous_valid_until
            else None,
        }
    }
    payload = (await gql(SET_SECRET, variables, key=tenant.secret))["setWebhookSecret"]
    assert payload["errors"] == [], payload["errors"]
    return dict(payload["connection"])


def path_of(connection: dict[str, Any]) -> str:
    return urlparse(connection["url"]).path


def b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    body: bytes,
    secret: str = SHOPIFY_SECRET,
    topic: str = "products/update",
    event_id: str | None = "9a1b2c3d-0001",
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": b64_hmac(secret, body),
        "X-Shopify-Shop-Domain": "nordlinen.myshopify.com",
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Triggered-At": "2026-11-01T10:00:00.000Z",
    }
    if event_id:
        headers["X-Shopify-Event-Id"] = event_id
        headers["X-Shopify-Webhook-Id"] = f"wh-{event_id}"
    return headers


def shirt_body() -> bytes:
    return json.dumps(fixture("shopify_product_linen_shirt.json")).encode()


def woo_headers(body: bytes, topic: str, delivery: str, secret: str = WOO_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": b64_hmac(secret, body),
        "X-WC-Webhook-ID": "17",
        "X-WC-Webhook-Delivery-ID": delivery,
    }


def hubspot_events(*event_ids: int, subscription: str = "product.propertyChange") -> bytes:
    return json.dumps(
        [
            {
                "eventId": event_id,
                "subscriptionId": 2881778,
                "portalId": 62515,
                "appId": 1160452,
                "occurredAt": 1761991200000,
                "subscriptionType": subscription,
                "attemptNumber": 0,
                "objectId": 1246965 + event_id,
                "propertyName": "price",
                "propertyValue": "54.00",
                "changeSource": "CRM",
            }
            for event_id in event_ids
        ]
    ).encode()


def hubspot_v3_headers(
    url: str, body: bytes, secret: str = HUBSPOT_SECRET, millis: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time() * 1000) if millis is None else millis)
    signed = b"POST" + url.encode() + body + stamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature.decode(),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def standard_headers(body: bytes, message_id: str, secret: str = STANDARD_SECRET) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body.decode()),
    }


async def job_count(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(IngestJob)) or 0)


async def notices(gql: GraphQL, tenant: Tenant, everything: bool = False) -> list[dict[str, Any]]:
    variables = {"first": 100, "all": everything}
    return list((await gql(NOTICES, variables, key=tenant.secret))["webhookNotices"]["nodes"])


async def connection_row(services: Services, connection_id: str) -> WebhookConnection:
    async with services.sessions() as session:
        row = await session.get(WebhookConnection, connection_id)
    assert row is not None
    return row


# --- connections and secrets ----------------------------------------------------------------


async def test_setting_a_secret_returns_the_url_and_stores_the_secret_encrypted(
    gql, services, tenant
):
    connection = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
    assert connection["id"].startswith("whc_")
    assert connection["url"] == f"http://127.0.0.1:8000/webhooks/shopify/{connection['id']}"
    assert SHOPIFY_SECRET not in json.dumps(connection)
    row = await connection_row(services, connection["id"])
    assert SHOPIFY_SECRET not in row.secret_encrypted
    assert decrypt(services.settings, row.secret_encrypted) == SHOPIFY_SECRET
    again = await connect(gql, tenant, "shopify", SHOPIFY_SECRET + "x")
    assert again["id"] == connection["id"]  # one connection per client and platform


async def test_bad_secrets_get_field_errors(gql, tenant):
    cases = [
        ({"platform": "SHOPIFY", "secret": "short"}, "invalid_secret", "secret"),
        ({"platform": "SALESFORCE", "secret": "not-a-whsec-secret"}, "invalid_secret", "secret"),
        (
            {
                "platform": "HUBSPOT",
                "secret": HUBSPOT_SECRET,
                "previousSecretValidUntil": "2026-01-01T00:00:00Z",
            },
            "no_previous_secret",
            "previousSecretValidUntil",
        ),
    ]
    for variables, code, path in cases:
        payload = (await gql(SET_SECRET, {"input": variables}, key=tenant.secret))[
            "setWebhookSecret"
        ]
        assert payload["connection"] is None
        assert [(e["code"], e["path"]) for e in payload["errors"]] == [(code, path)]


# --- Shopify --------------------------------------------------------------------------------


async def test_a_shopify_product_webhook_becomes_a_stored_canonical_product(
    api, gql, services, shop_tenant
):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    response = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["status"] == "accepted"
    [job_id] = receipt["job_ids"]

    await drain(services)
    job = (await gql(JOB_QUERY, {"id": job_id}, key=shop_tenant.secret))["job"]
    assert job["status"] == "SUCCEEDED", job["errors"]
    assert job["door"] == "WEBHOOK"
    data = await gql(
        RECORDS_QUERY,
        {"entity": "PRODUCT", "ids": ["8072389472001"], "first": 10},
        key=shop_tenant.secret,
    )
    [product] = data["records"]["nodes"]
    assert product["sourcePlatform"] == "shopify"
    assert product["data"]["name"] == "Linen Shirt"


async def test_a_shopify_product_deletion_archives_the_stored_product(
    api, gql, services, shop_tenant
):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    response = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert response.status_code == 202, response.text
    await drain(services)

    removal = b'{"id": 8072389472001}'
    headers = shopify_headers(removal, topic="products/delete", event_id="ev-removal")
    response = await api.post(path_of(connection), content=removal, headers=headers)
    assert response.status_code == 202, response.text

    async with services.sessions() as session:
        archived = (await session.scalars(select(ArchivedRecord))).all()
    assert [(a.client_id, a.entity, a.source_platform, a.external_id) for a in archived] == [
        (shop_tenant.client_id, "product", "shopify", "8072389472001")
    ]
    [notice] = [n for n in await notices(gql, shop_tenant) if n["topic"] == "products/delete"]
    assert notice["reason"].lower() == "deleted"


async def test_a_redelivered_shopify_event_is_acknowledged_and_not_processed_again(
    api, gql, services, shop_tenant
):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    first = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    again = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() | {"connection_id": None} == {
        "status": "duplicate",
        "connection_id": None,
        "events": 1,
        "duplicates": 1,
        "job_ids": [],
        "notice_ids": [],
    }
    assert await job_count(services) == 1
    other_event = await api.post(
        path_of(connection), content=body, headers=shopify_headers(body, event_id="9a1b2c3d-0002")
    )
    assert other_event.status_code == 202
    assert await job_count(services) == 2


async def test_without_event_ids_the_exact_body_is_the_dedupe_key(api, gql, services, shop_tenant):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    headers = shopify_headers(body, event_id=None)
    assert (await api.post(path_of(connection), content=body, headers=headers)).status_code == 202
    assert (await api.post(path_of(connection), content=body, headers=headers)).status_code == 200
    assert await job_count(services) == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (
            {"X-Shopify-Hmac-Sha256": b64_hmac("some-other-secret", b"{}")},
            "invalid_webhook_signature",
        ),
        ({}, "missing_webhook_signature"),
    ],
)
async def test_unsigned_or_badly_signed_deliveries_are_refused_and_counted(
    api, gql, services, shop_tenant, headers, code
):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    sent = {"X-Shopify-Topic": "products/update", "X-Shopify-Event-Id": "e-1"} | headers
    for _ in range(2):
        response = await api.post(path_of(connection), content=body, headers=sent)
        assert response.status_code == 401
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("authentication", code)
        assert error["request_id"]
    [seen] = (await gql(CONNECTIONS, key=shop_tenant.secret))["webhookConnections"]
    assert seen["rejectedDeliveries"] == 2
    assert seen["lastRejectionCode"] == code
    assert seen["lastRejectedAt"]
    assert await job_count(services) == 0
    # A refused delivery leaves no dedupe mark: the correctly signed one is processed.
    signed = await api.post(
        path_of(connection), content=body, headers=shopify_headers(body, event_id="e-1")
    )
    assert signed.status_code == 202


async def test_a_rejection_logs_no_body_and_no_secret(api, gql, shop_tenant, caplog):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    headers = shopify_headers(body, secret="wrong-secret-123")
    response = await api.post(path_of(connection), content=body, headers=headers)
    assert response.status_code == 401
    logged = caplog.text
    assert "webhook.rejected" in logged
    assert "Linen" not in logged
    assert SHOPIFY_SECRET not in logged and "wrong-secret-123" not in logged


async def test_topics_without_a_mapping_and_deletions_become_notices(api, gql, shop_tenant):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    deliveries = [
        ("orders/create", b'{"id": 450789469, "email": "bob@example.com"}', "unsupported_topic"),
        ("products/delete", b'{"id": 8072389472001}', "deleted"),
    ]
    customer_mapped = (SourcePlatform.SHOPIFY, Entity.AUDIENCE) in mappings()
    customer = (
        b'{"id": 207119551, "email": "bob@example.com", "updated_at": "2026-11-01T10:00:00Z"}'
    )
    for number, (topic, body, _) in enumerate(deliveries):
        headers = shopify_headers(body, topic=topic, event_id=f"ev-{number}")
        response = await api.post(path_of(connection), content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert len(response.json()["notice_ids"]) == 1
    headers = shopify_headers(customer, topic="customers/create", event_id="ev-customer")
    response = await api.post(path_of(connection), content=customer, headers=headers)
    assert response.status_code == 202
    assert len(response.json()["job_ids"]) == (1 if customer_mapped else 0)

    found = {n["topic"]: n for n in await notices(gql, shop_tenant)}
    expected = {topic: reason for topic, _, reason in deliveries}
    if not customer_mapped:
        expected["customers/create"] = "no_mapping"
    assert {topic: n["reason"].lower() for topic, n in found.items()} == expected
    assert found["products/delete"]["objectId"] == "8072389472001"
    assert "archived" in found["products/delete"]["message"]
    assert found["orders/create"]["payload"] is None  # full records are not kept in notices


async def test_unknown_connections_and_the_wrong_platform_are_not_found(api, gql, shop_tenant):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    unknown = await api.post(
        "/webhooks/shopify/whc_00000000000000000000000000",
        content=body,
        headers=shopify_headers(body),
    )
    wrong = await api.post(
        f"/webhooks/woocommerce/{connection['id']}", content=body, headers=shopify_headers(body)
    )
    bad_source = await api.post(
        f"/webhooks/magento/{connection['id']}", content=body, headers=shopify_headers(body)
    )
    assert unknown.status_code == wrong.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_webhook_connection"
    assert bad_source.status_code == 400
    assert bad_source.json()["error"]["param"] == "source"


async def test_a_signed_body_that_is_not_json_is_a_400(api, gql, shop_tenant):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = b'{"id": 1,'
    response = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


async def test_a_signed_body_that_repeats_a_key_is_a_400_naming_it(api, gql, services, shop_tenant):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()[:-1] + b', "title": "Another title"}'
    response = await api.post(path_of(connection), content=body, headers=shopify_headers(body))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["errors"][0]["code"]) == ("duplicate_key", "duplicate_key")
    assert error["message"] == (
        "The delivery repeats the key 'title' in one object; each key may appear once."
    )
    assert await job_count(services) == 0


async def test_a_receipt_is_json_with_its_length_request_id_and_rate_limit_headers(
    api, gql, shop_tenant
):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = shirt_body()
    headers = shopify_headers(body) | {"X-Request-ID": "req-from-shopify-1"}
    response = await api.post(path_of(connection), content=body, headers=headers)

    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["x-request-id"] == "req-from-shopify-1"
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= response.headers.keys()
    receipt = response.json()
    assert list(receipt) == [
        "status",
        "connection_id",
        "events",
        "duplicates",
        "job_ids",
        "notice_ids",
    ]
    assert receipt["status"] == "accepted" and receipt["connection_id"] == connection["id"]
    assert receipt["events"] == 1 and len(receipt["job_ids"]) == 1


async def test_a_body_announced_larger_than_the_limit_is_refused_before_it_is_read(
    api, gql, services, shop_tenant
):
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    body = b'{"id": 1}'
    too_long = str(services.settings.max_body_bytes + 1)
    headers = shopify_headers(body) | {"Content-Length": too_long}
    refused = await api.post(path_of(connection), content=body, headers=headers)
    garbled = shopify_headers(body) | {"Content-Length": "nine"}
    unreadable = await api.post(path_of(connection), content=body, headers=garbled)

    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "body_too_large"
    assert unreadable.status_code == 400


# --- WooCommerce ----------------------------------------------------------------------------


async def test_woocommerce_creation_ping_is_acknowledged_and_nothing_else(
    api, gql, services, tenant
):
    connection = await connect(gql, tenant, "woocommerce", WOO_SECRET)
    response = await api.post(
        path_of(connection),
        content=b"webhook_id=17",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ping"
    assert await job_count(services) == 0
    assert await notices(gql, tenant, everything=True) == []
    unsigned_json = await api.post(
        path_of(connection), content=b'{"id": 1}', headers={"X-WC-Webhook-Topic": "product.updated"}
    )
    assert unsigned_json.status_code == 401


async def test_woocommerce_deliveries_are_verified_and_deduplicated(api, gql, services, tenant):
    connection = await connect(gql, tenant, "woocommerce", WOO_SECRET)
    body = b'{"id": 794}'
    headers = woo_headers(body, "product.deleted", "d-5501")
    first = await api.post(path_of(connection), content=body, headers=headers)
    again = await api.post(path_of(connection), content=body, headers=headers)
    forged = await api.post(
        path_of(connection),
        content=body,
        headers=woo_headers(body, "product.deleted", "d-5502", "x" * 12),
    )
    assert (first.status_code, again.status_code, forged.status_code) == (202, 200, 401)
    [notice] = await notices(gql, tenant)
    assert (notice["reason"], notice["objectId"], notice["eventId"]) == ("DELETED", "794", "d-5501")


# --- HubSpot --------------------------------------------------------------------------------


async def test_hubspot_v3_events_become_notices_once_each(api, gql, tenant):
    connection = await connect(gql, tenant, "hubspot", HUBSPOT_SECRET)
    url = connection["url"].replace("http://127.0.0.1:8000", "http://gateway.test")
    body = hubspot_events(101, 102)
    first = await api.post(path_of(connection), content=body, headers=hubspot_v3_headers(url, body))
    assert first.status_code == 202, first.text
    assert (first.json()["events"], len(first.json()["notice_ids"])) == (2, 2)

    retry = hubspot_events(102, 103)  # HubSpot retries; batches may overlap
    second = await api.post(
        path_of(connection), content=retry, headers=hubspot_v3_headers(url, retry)
    )
    assert second.status_code == 202
    assert (second.json()["duplicates"], len(second.json()["notice_ids"])) == (1, 1)

    found = await notices(gql, tenant)
    assert [n["eventId"] for n in found] == ["101", "102", "103"]
    assert {n["reason"] for n in found} == {"ID_ONLY"}
    assert found[0]["objectType"] == "product"
    assert found[0]["objectId"] == str(1246965 + 101)
    assert found[0]["payload"]["propertyName"] == "price"
    assert found[0]["occurredAt"].startswith("2025-11-01T10:00:00")


async def test_hubspot_v3_replayed_after_five_minutes_is_refused(api, gql, tenant):
    connection = await connect(gql, tenant, "hubspot", HUBSPOT_SECRET)
    url = connection["url"].replace("http://127.0.0.1:8000", "http://gateway.test")
    body = hubspot_events(201)
    old = int((time.time() - 6 * 60) * 1000)
    response = await api.post(
        path_of(connection), content=body, headers=hubspot_v3_headers(url, body, millis=old)
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_timestamp_expired"
    assert await notices(gql, tenant) == []


async def test_hubspot_v1_signatures_verify(api, gql, tenant):
    connection = await connect(gql, tenant, "hubspot", HUBSPOT_SECRET)
    body = hubspot_events(301, subscription="contact.deletion")
    signature = hashlib.sha256(HUBSPOT_SECRET.encode() + body).hexdigest()
    headers = {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v1"}
    response = await api.post(path_of(connection), content=body, headers=headers)
    assert response.status_code == 202
    [notice] = await notices(gql, tenant)
    assert (notice["reason"], notice["objectType"]) == ("DELETED", "contact")


async def test_notices_are_acknowledged_and_paged(api, gql, tenant):
    connection = await connect(gql, tenant, "hubspot", HUBSPOT_SECRET)
    url = connection["url"].replace("http://127.0.0.1:8000", "http://gateway.test")
    body = hubspot_events(401, 402, 403)
    await api.post(path_of(connection), content=body, headers=hubspot_v3_headers(url, body))
    variables = {"first": 2, "all": False, "source": "HUBSPOT"}
    page = (await gql(NOTICES, variables, key=tenant.secret))["webhookNotices"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql(
        NOTICES, variables | {"after": page["pageInfo"]["endCursor"]}, key=tenant.secret
    )
    assert [n["eventId"] for n in rest["webhookNotices"]["nodes"]] == ["403"]

    ids = [n["id"] for n in page["nodes"]]
    acknowledged = await gql(ACKNOWLEDGE, {"input": {"ids": ids}}, key=tenant.secret)
    assert acknowledged["acknowledgeWebhookNotices"] == {"acknowledged": 2, "errors": []}
    assert [n["eventId"] for n in await notices(gql, tenant)] == ["403"]
    everything = await notices(gql, tenant, everything=True)
    assert [n["acknowledgedAt"] is not None for n in everything] == [True, True, False]
    none = await gql(ACKNOWLEDGE, {"input": {"ids": []}}, key=tenant.secret)
    assert none["acknowledgeWebhookNotices"]["errors"][0]["path"] == "ids"


# --- Standard Webhooks (partner-forwarded) ---------------------------------------------------


async def test_partner_forwarded_events_are_verified_per_standard_webhooks(
    api, gql, services, tenant
):
    custom = await connect(gql, tenant, "custom", STANDARD_SECRET)
    record = {
        "external_id": "crm-4411",
        "source_platform": "custom",
        "source_updated_at": "2026-11-01T10:00:00Z",
        "name": "Field Notebook",
        "price": {"amount": "12.50", "currency": "EUR"},
    }
    body = json.dumps({"type": "product.updated", "data": record}).encode()
    headers = standard_headers(body, "msg_01")
    accepted = await api.post(path_of(custom), content=body, headers=headers)
    replayed = await api.post(path_of(custom), content=body, headers=headers)
    assert (accepted.status_code, replayed.status_code) == (202, 200)
    await drain(services)
    [job_id] = accepted.json()["job_ids"]
    job = (await gql(JOB_QUERY, {"id": job_id}, key=tenant.secret))["job"]
    assert job["status"] == "SUCCEEDED", job["errors"]

    salesforce = await connect(gql, tenant, "salesforce", STANDARD_SECRET)
    removal = json.dumps({"type": "product.deleted", "data": {"Id": "01t5e000003XyZAAA0"}}).encode()
    response = await api.post(
        path_of(salesforce), content=removal, headers=standard_headers(removal, "msg_02")
    )
    assert response.status_code == 202
    [notice] = await notices(gql, tenant)
    assert (notice["source"], notice["reason"], notice["objectId"]) == (
        "SALESFORCE",
        "DELETED",
        "01t5e000003XyZAAA0",
    )
    unsigned = await api.post(path_of(salesforce), content=removal)
    assert unsigned.status_code == 401


async def test_an_event_that_fails_is_not_remembered_so_its_retry_is_processed(api, gql, tenant):
    custom = await connect(gql, tenant, "custom", STANDARD_SECRET)
    too_many = [{"external_id": f"r{n}"} for n in range(6)]  # this gateway takes 5 per call
    body = json.dumps({"type": "product.created", "data": too_many}).encode()
    headers = standard_headers(body, "msg_03")
    first = await api.post(path_of(custom), content=body, headers=headers)
    retry = await api.post(path_of(custom), content=body, headers=standard_headers(body, "msg_03"))
    assert first.status_code == retry.status_code == 400
    assert retry.json()["error"]["code"] == "invalid_envelope"


# --- rotation and isolation -----------------------------------------------------------------


async def test_a_rotated_secret_keeps_verifying_until_its_overlap_ends(api, gql, services, tenant):
    old, new, newest = SHOPIFY_SECRET, "shpss_second_secret_value", "shpss_third_secret_value"
    connection = await connect(gql, tenant, "shopify", old)
    until = datetime.now(UTC) + timedelta(hours=1)
    rotated = await connect(gql, tenant, "shopify", new, previous_valid_until=until)
    assert rotated["previousSecretValidUntil"] is not None
    body = b'{"id": 1}'

    async def status(secret: str, event: str) -> int:
        headers = shopify_headers(body, secret=secret, topic="products/delete", event_id=event)
        return (await api.post(path_of(connection), content=body, headers=headers)).status_code

    assert await status(old, "r1") == 202
    assert await status(new, "r2") == 202
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(WebhookConnection)
            .where(WebhookConnection.id == connection["id"])
            .values(previous_valid_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await status(old, "r3") == 401  # the overlap is over
    assert await status(new, "r4") == 202
    await connect(gql, tenant, "shopify", newest)  # no overlap: the replaced secret stops now
    assert await status(new, "r5") == 401
    assert await status(newest, "r6") == 202


async def test_one_clients_secret_never_verifies_another_clients_url(api, gql, services, tenant):
    other = await create_tenant(services, "Globex")
    mine = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
    theirs = await connect(gql, other, "shopify", "shpss_globex_secret_value")
    body = b'{"id": 1}'
    headers = shopify_headers(body, topic="products/delete")
    assert (await api.post(path_of(theirs), content=body, headers=headers)).status_code == 401
    assert (await api.post(path_of(mine), content=body, headers=headers)).status_code == 202

    [their_connection] = (await gql(CONNECTIONS, key=other.secret))["webhookConnections"]
    [my_connection] = (await gql(CONNECTIONS, key=tenant.secret))["webhookConnections"]
    assert (their_connection["rejectedDeliveries"], my_connection["rejectedDeliveries"]) == (1, 0)
    [notice] = await notices(gql, tenant)
    assert await notices(gql, other, everything=True) == []
    stolen = await gql(ACKNOWLEDGE, {"input": {"ids": [notice["id"]]}}, key=other.secret)
    assert stolen["acknowledgeWebhookNotices"]["acknowledged"] == 0
    assert len(await notices(gql, tenant)) == 1


async def test_a_secret_rotated_in_another_process_verifies_at_once(database_url, tmp_path, tenant):
    """With the connection cache on, a delivery signed with a just-set secret is not refused:
    a mismatch re-reads the connection before rejecting."""
    from app.asgi import create_app

    settings = make_settings(
        database_url, sandbox_blob_dir=tmp_path, webhook_secret_cache_seconds=3600
    )
    services = Services.create(settings)
    app = create_app(settings, services)
    await services.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client:
            gql = GraphQL(client)
            connection = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
            body = b'{"id": 1}'
            for number, secret in enumerate([SHOPIFY_SECRET, "shpss_rotated_elsewhere"]):
                if number:
                    await connect(gql, tenant, "shopify", secret)
                headers = shopify_headers(body, secret, "products/delete", f"c{number}")
                response = await client.post(path_of(connection), content=body, headers=headers)
                assert response.status_code == 202
    finally:
        await services.stop()


async def test_the_database_ledger_forgets_ids_after_the_window(services, gql, tenant):
    connection = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
    row = await connection_row(services, connection["id"])
    ledger = DatabaseLedger(services.sessions, window_seconds=72 * 3600)
    assert await ledger.claim(row, "evt-1") is True
    assert await ledger.claim(row, "evt-1") is False
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(WebhookDelivery).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await ledger.claim(row, "evt-1") is True
    assert await ledger.claim(row, "evt-1") is False


WOO_PRODUCT = {
    "id": 794,
    "name": "Enamel Mug",
    "slug": "enamel-mug",
    "permalink": "https://shop.example.com/product/enamel-mug/",
    "date_created": "2026-10-02T10:15:00",
    "date_created_gmt": "2026-10-02T08:15:00",
    "date_modified": "2026-11-01T11:00:00",
    "date_modified_gmt": "2026-11-01T10:00:00",
    "type": "simple",
    "status": "publish",
    "description": "<p>Speckled enamel, 350 ml.</p>",
    "sku": "MUG-350",
    "price": "14.00",
    "regular_price": "14.00",
    "sale_price": "",
    "stock_quantity": 40,
    "categories": [{"id": 9, "name": "Kitchen", "slug": "kitchen"}],
    "tags": [],
    "images": [{"id": 801, "src": "https://shop.example.com/mug.jpg", "alt": "Mug"}],
}


@pytest.mark.skipif(
    (SourcePlatform.WOOCOMMERCE, Entity.PRODUCT) not in mappings(),
    reason="no WooCommerce product mapping rules",
)
async def test_a_woocommerce_product_webhook_becomes_a_stored_product(
    api, gql, services, shop_tenant
):
    connection = await connect(gql, shop_tenant, "woocommerce", WOO_SECRET)
    body = json.dumps(WOO_PRODUCT).encode()
    headers = woo_headers(body, "product.updated", "d-7001")
    response = await api.post(path_of(connection), content=body, headers=headers)
    assert response.status_code == 202, response.text
    [job_id] = response.json()["job_ids"]
    await drain(services)
    job = (await gql(JOB_QUERY, {"id": job_id}, key=shop_tenant.secret))["job"]
    assert job["status"] == "SUCCEEDED", job["errors"]
    data = await gql(
        RECORDS_QUERY, {"entity": "PRODUCT", "ids": ["794"], "first": 1}, key=shop_tenant.secret
    )
    [product] = data["records"]["nodes"]
    assert (product["sourcePlatform"], product["data"]["name"]) == ("woocommerce", "Enamel Mug")


async def test_each_connection_has_its_own_rate_limit(database_url, tmp_path, services, tenant):
    """A flood on one connection is refused with 429 before its body is read, and does not
    touch another client's connection."""
    from app.asgi import create_app

    settings = make_settings(
        database_url,
        sandbox_blob_dir=tmp_path,
        webhook_rate_limit_burst=2,
        webhook_rate_limit_per_second=0.01,
    )
    limited = Services.create(settings)
    app = create_app(settings, limited)
    await limited.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client:
            gql = GraphQL(client)
            other = await create_tenant(limited, "Globex")
            mine = await connect(gql, tenant, "shopify", SHOPIFY_SECRET)
            theirs = await connect(gql, other, "shopify", SHOPIFY_SECRET)
            body = b'{"id": 1}'
            answers = []
            for number in range(3):
                headers = shopify_headers(body, topic="products/delete", event_id=f"f{number}")
                answers.append(await client.post(path_of(mine), content=body, headers=headers))
            headers = shopify_headers(body, topic="products/delete", event_id="g0")
            elsewhere = await client.post(path_of(theirs), content=body, headers=headers)
    finally:
        await limited.stop()
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert answers[0].headers["RateLimit-Limit"] == "2"
    assert answers[2].json()["error"]["code"] == "rate_limited"
    assert "webhook connection" in answers[2].json()["error"]["message"]
    assert int(answers[2].headers["Retry-After"]) > 0
    assert elsewhere.status_code == 202


async def test_a_burst_of_product_webhooks_stores_every_product_once(
    api, gql, services, shop_tenant
):
    """Deliveries arriving together may share a job (one commit for many); each is answered
    with the job holding its record, and every product is stored."""
    connection = await connect(gql, shop_tenant, "shopify", SHOPIFY_SECRET)
    shirt = fixture("shopify_product_linen_shirt.json")
    bodies = [json.dumps(shirt | {"id": 7000 + number}).encode() for number in range(12)]
    answers = await asyncio.gather(
        *(
            api.post(
                path_of(connection), content=body, headers=shopify_headers(body, event_id=f"b{n}")
            )
            for n, body in enumerate(bodies)
        )
    )
    assert {answer.status_code for answer in answers} == {202}
    job_ids = {job_id for answer in answers for job_id in answer.json()["job_ids"]}
    assert all(len(answer.json()["job_ids"]) == 1 for answer in answers)
    await drain(services)
    received = 0
    for job_id in job_ids:
        job = (await gql(JOB_QUERY, {"id": job_id}, key=shop_tenant.secret))["job"]
        assert job["status"] == "SUCCEEDED", job["errors"]
        received += job["counters"]["received"]
    assert received == 12
    ids = [str(7000 + number) for number in range(12)]
    data = await gql(
        RECORDS_QUERY, {"entity": "PRODUCT", "ids": ids, "first": 50}, key=shop_tenant.secret
    )
    assert len(data["records"]["nodes"]) == 12
