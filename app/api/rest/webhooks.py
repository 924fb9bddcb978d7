"""POST /webhooks/{source}/{connection_id}: platform and partner deliveries. No API key: the
connection in the URL names the client, and the delivery's signature (checked on the raw body
with that connection's secret, before anything parses it) proves who sent it."""

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post
from litestar.exceptions import ClientException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    RequestBody,
    Schema,
    SecurityRequirement,
)
from litestar.params import Parameter
from litestar.response.base import ASGIResponse
from msgspec import Meta, Struct

from app.api.rest import openapi
from app.contracts.fields import SourcePlatform
from app.ratelimit.http import limit_webhook
from app.services import Services
from app.tenancy.models import Tenant
from app.usage.metrics import Metric
from app.webhooks.connections import public_base_url
from app.webhooks.service import Receipt, ReceiptStatus
from app.webhooks.signatures import SignedRequest

ConnectionId = Annotated[
    str, Parameter(description="The connection id from the URL setWebhookSecret returned.")
]


class WebhookReceipt(Struct, kw_only=True):
    """What the gateway did with a delivery."""

    status: Annotated[
        ReceiptStatus,
        Meta(
            description="accepted: new events were queued as ingest jobs or recorded as notices; "
            "duplicate: every event was seen before (nothing done); ping: WooCommerce's "
            "creation ping (nothing done)."
        ),
    ]
    connection_id: str
    events: Annotated[int, Meta(description="Events in the delivery (HubSpot sends batches).")]
    duplicates: Annotated[int, Meta(description="Events already received: ignored.")]
    job_ids: Annotated[
        list[str], Meta(description="Ingest jobs created from full records (GET /jobs/{id}).")
    ]
    notice_ids: Annotated[
        list[str],
        Meta(
            description="Change notices recorded (GraphQL `webhookNotices`) for id-only events, "
            "deletions and events without a mapping."
        ),
    ]


def signed_url(request: Request[Any, Any, Any], services: Services) -> str:
    """The URL as the platform called it: rebuilt from GATEWAY_PUBLIC_URL behind a proxy."""
    if services.settings.public_url is None:
        return str(request.url)
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = public_base_url(services.settings) + request.url.path
    return f"{url}?{query}" if query else url


def _lower_case_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The request's headers straight from the ASGI scope (names lower-cased; a repeated header
    keeps its last value), without building Litestar's multi-dict first."""
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in request.scope["headers"]
    }


def _receipt_body(receipt: Receipt) -> WebhookReceipt:
    return WebhookReceipt(
        status=receipt.status,
        connection_id=receipt.connection_id,
        events=receipt.events,
        duplicates=receipt.duplicates,
        job_ids=receipt.job_ids,
        notice_ids=receipt.notice_ids,
    )


# Litestar's generic request and response paths cost measurably per delivery (each builds a
# header multi-dict; the response also looks up a serializer); deliveries need neither.


class _DeliveryRequest(Request[Any, Any, Any]):
    @property
    def content_length(self) -> int | None:
        """The announced body size (checked against the body limit before the body is read),
        straight from the ASGI scope."""
        for name, value in self.scope["headers"]:
            if name.lower() == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    announced = value.decode("latin-1")
                    raise ClientException(f"Invalid content-length: {announced!r}") from None
        return None


class _EncodedAnswer(ASGIResponse):
    """A JSON answer from its encoded body alone: ASGIResponse's set-up is generic (cookies,
    header multi-dict, HEAD and empty statuses), none of which a receipt has."""

    def __init__(self, status_code: int, body: bytes) -> None:  # not the generic set-up
        self.status_code = status_code
        self.body = body
        self.background = None
        self.is_head_response = False

    def encode_headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(self.body))]


class _ReceiptResponse(Response[WebhookReceipt]):
    def to_asgi_response(self, app: Any, request: Any, **_: Any) -> ASGIResponse:
        return _EncodedAnswer(self.status_code or 202, msgspec.json.encode(self.content))


_DESCRIPTION = """\
Where Shopify, WooCommerce and HubSpot deliver webhooks natively, and where partners forward
events from other platforms (Salesforce, custom CRMs) signed per Standard Webhooks. Configure on
the platform the URL `setWebhookSecret` returned for it (one per client and platform).

Signatures are checked on the exact body bytes with the connection's secret (and, during a
rotation, the previous one until its end time):

- **shopify**: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(secret, body)).
- **woocommerce**: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body)); the unsigned
  `webhook_id=<n>` creation ping is acknowledged (200, `ping`) and nothing else.
- **hubspot**: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(secret, method + URL + body +
  `X-HubSpot-Request-Timestamp`)), at most 5 minutes old; or v1 `X-HubSpot-Signature` = hex
  SHA-256(secret + body).
- **salesforce**, **custom**: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
  `webhook-signature`, secret `whsec_…`), at most 5 minutes old. The body is
  `{"type": "<entity>.<created|updated|deleted>", "data": <record or list of records>}` with
  records in the platform's own shape (`custom`: the standard schema v1 shape).

Unsigned or badly signed deliveries get 401 and are counted on the connection; nothing is done.
Each event is acted on once: repeats of a delivery/event id within 72 hours answer 200
`duplicate`. Full records (Shopify products/customers create/update, WooCommerce
product/customer) become ingest jobs, processed in the background (202). Id-only events
(HubSpot), deletions (not applied yet) and events without mapping rules become change notices,
read with the GraphQL query `webhookNotices`."""

_SIGNATURE_MESSAGE = (
    "The signature does not match this connection's secret for the exact body received."
)
_ACCEPTED_EXAMPLE = {
    "status": "accepted",
    "connection_id": "whc_01jc3va2m5x7h9k4r8t0w6y2qe",
    "events": 1,
    "duplicates": 0,
    "job_ids": ["job_01jc3va2m5x7h9k4r8t0w6y2qf"],
    "notice_ids": [],
}
_DUPLICATE_EXAMPLE = _ACCEPTED_EXAMPLE | {"status": "duplicate", "duplicates": 1, "job_ids": []}
_ERRORS: dict[int, ResponseSpec] = {
    400: openapi.error_response(
        "The source is not a known platform, or a correctly signed body is not JSON or repeats "
        "a key in one object (`duplicate_key`).",
        malformed_json=openapi.field_error_example(
            "malformed_json",
            "The delivery is signed but its body is not valid JSON: unexpected character.",
        ),
    ),
    401: openapi.error_response(
        "The delivery is unsigned, badly signed or too old; it was counted and not processed.",
        invalid_webhook_signature=openapi.error_example(
            "authentication", "invalid_webhook_signature", _SIGNATURE_MESSAGE
        ),
        missing_webhook_signature=openapi.error_example(
            "authentication",
            "missing_webhook_signature",
            "The delivery carries no X-Shopify-Hmac-Sha256 header: it is not signed.",
        ),
        webhook_timestamp_expired=openapi.error_example(
            "authentication",
            "webhook_timestamp_expired",
            "The signed timestamp is more than 300 seconds from the gateway's clock: the "
            "delivery is too old (a replay?) or the sender's clock is wrong.",
        ),
    ),
    404: openapi.error_response(
        "No connection for this platform at this URL.",
        unknown_webhook_connection=openapi.error_example(
            "not_found",
            "unknown_webhook_connection",
            "No shopify webhook connection at this URL: configure the URL that "
            "setWebhookSecret returned for this platform.",
        ),
    ),
    413: openapi.error_response(
        "The body is larger than the gateway accepts.",
        body_too_large=openapi.error_example(
            "invalid_request",
            "body_too_large",
            "The request body is larger than this gateway accepts; split the batch.",
        ),
    ),
}
_REQUEST_BODY = RequestBody(
    required=True,
    description="The platform's delivery, exactly as sent (signed over these bytes).",
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(description="The platform's event or resource, as it sends it.")
        ),
        "application/x-www-form-urlencoded": OpenAPIMediaType(
            schema=Schema(description="WooCommerce's creation ping: `webhook_id=<n>`.")
        ),
    },
)


_CONNECTION_RATE_HEADERS = {
    "RateLimit-Limit": "Deliveries this connection may receive at once (its own bucket, apart "
    "from every API key's; default GATEWAY_WEBHOOK_RATE_LIMIT_BURST).",
    "RateLimit-Remaining": "Deliveries this connection may still receive right now.",
    "RateLimit-Reset": "Seconds until the bucket is full again.",
    "Retry-After": "Seconds until this connection may receive its next delivery.",
}
_RATE_LIMITED_MESSAGE = (
    "Too many requests for this webhook connection: 4000 at once, refilled over time. Retry in 1 s."
)


def _connection_headers(status: str, headers: dict[str, Any]) -> dict[str, Any]:
    """The key-centric header descriptions, said of the webhook connection instead; no bearer
    challenge on a 401 (the signature is what is missing)."""
    headers.pop("WWW-Authenticate", None)
    if status == "404":  # no connection, so no bucket was taken
        return {name: value for name, value in headers.items() if not name.startswith("RateLimit")}
    if status in ("401", "429"):  # the connection's bucket was taken before either
        limits = [name for name in _CONNECTION_RATE_HEADERS if name != "Retry-After"]
        headers |= dict.fromkeys([*limits, *(["Retry-After"] if status == "429" else [])])
        headers["X-Request-ID"] = openapi.REQUEST_ID_HEADER
    for name, description in _CONNECTION_RATE_HEADERS.items():
        if name in headers:
            headers[name] = OpenAPIHeader(
                schema=Schema(type=OpenAPIType.STRING), description=description
            )
    return headers


def _connection_rate_limited() -> OpenAPIResponse:
    example = openapi.error_example("rate_limited", "rate_limited", _RATE_LIMITED_MESSAGE)
    return OpenAPIResponse(
        description="This connection has received more deliveries than its limit allows: "
        "nothing was done; the platform retries later (after `Retry-After` seconds).",
        content=openapi.error_media({"rate_limited": example}),
    )


def _signed_not_keyed() -> type[Any]:
    """The operation carries no API-key requirement: the signature authenticates it."""
    base = openapi.documented(
        request_body=_REQUEST_BODY,
        examples={"202": {"accepted": _ACCEPTED_EXAMPLE}, "200": {"duplicate": _DUPLICATE_EXAMPLE}},
    )

    @dataclass
    class SignedOperation(base):  # type: ignore[valid-type,misc]
        def __post_init__(self) -> None:
            super().__post_init__()
            no_key: list[SecurityRequirement] = [{}]
            self.security = no_key
            responses = self.responses or {}
            responses.pop("403", None)  # no key, so no scopes
            if "429" in responses:
                responses["429"] = _connection_rate_limited()
            for status, response in responses.items():
                if isinstance(response, OpenAPIResponse):
                    response.headers = _connection_headers(status, response.headers or {})

    return SignedOperation


@post(
    "/webhooks/{source:str}/{connection_id:str}",
    name="receiveWebhook",
    operation_id="receiveWebhook",
    status_code=202,
    tags=["webhooks"],
    summary="Receive a platform webhook",
    description=_DESCRIPTION,
    response_description="New events were accepted: ingest jobs queued, notices recorded.",
    responses={
        200: ResponseSpec(
            data_container=WebhookReceipt,
            description="Nothing to do: every event was a duplicate, or this was WooCommerce's "
            "creation ping.",
            generate_examples=False,
        ),
        **_ERRORS,
    },
    operation_class=_signed_not_keyed(),
    request_class=_DeliveryRequest,
)
async def receive_webhook(
    request: Request[Any, Any, Any],
    source: Annotated[SourcePlatform, Parameter(description="The platform sending the events.")],
    connection_id: ConnectionId,
) -> Response[WebhookReceipt]:
    # From the app's state, not as a dependency: resolving one per delivery is measurable.
    services: Services = request.app.state.services
    receiver = services.webhooks
    connection = await receiver.connection(source, connection_id)
    await limit_webhook(request, connection.id, connection.client_id)  # before reading the body
    services.meter.count(Tenant(connection.client_id, connection.livemode), Metric.WEBHOOK_CALLS)
    signed = SignedRequest(
        method=request.method,
        url=signed_url(request, services),
        headers=_lower_case_headers(request),
        body=await request.body(),
    )
    receipt = await receiver.receive(
        source, connection_id, signed, request.scope["state"].get("request_id")
    )
    status = 202 if receipt.status == "accepted" else 200
    return _ReceiptResponse(_receipt_body(receipt), status_code=status)


WEBHOOK_HANDLERS = [receive_webhook]
