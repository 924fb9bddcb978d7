"""Each platform's signature recipe, with signatures computed here from a known secret and body
exactly as the platform documents them; Standard Webhooks checked against the reference library."""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from app.webhooks.signatures import (
    Scheme,
    SignatureProblem,
    SignedRequest,
    verify,
)

SECRET = "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"
OTHER_SECRET = "shpss_00000000000000000000000000000000"
BODY = b'{"id":8072389472001,"title":"Linen Shirt","updated_at":"2026-11-01T11:00:00+01:00"}'
URL = "https://gateway.example.com/webhooks/hubspot/whc_01jc3va2m5x7h9k4r8t0w6y2qe"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
TOLERANCE = 300.0


def base64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def request(headers: dict[str, str], body: bytes = BODY, url: str = URL) -> SignedRequest:
    return SignedRequest("POST", url, {k.lower(): v for k, v in headers.items()}, body)


def problem_code(scheme: Scheme, signed: SignedRequest, secrets: list[str]) -> str | None:
    try:
        verify(scheme, signed, secrets, TOLERANCE)
    except SignatureProblem as problem:
        return problem.code
    return None


# --- Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) ---------------------------

PLATFORM_HEADERS = [
    (Scheme.SHOPIFY, "X-Shopify-Hmac-Sha256"),
    (Scheme.WOOCOMMERCE, "X-WC-Webhook-Signature"),
]


@pytest.mark.parametrize(("scheme", "header"), PLATFORM_HEADERS)
def test_a_body_signed_with_the_secret_verifies(scheme, header):
    assert problem_code(scheme, request({header: base64_hmac(SECRET, BODY)}), [SECRET]) is None


@pytest.mark.parametrize(("scheme", "header"), PLATFORM_HEADERS)
def test_one_changed_byte_fails(scheme, header):
    signed = request({header: base64_hmac(SECRET, BODY)}, body=BODY.replace(b"Linen", b"Linem"))
    assert problem_code(scheme, signed, [SECRET]) == "invalid_webhook_signature"


@pytest.mark.parametrize(("scheme", "header"), PLATFORM_HEADERS)
def test_another_secret_fails(scheme, header):
    signed = request({header: base64_hmac(OTHER_SECRET, BODY)})
    assert problem_code(scheme, signed, [SECRET]) == "invalid_webhook_signature"


@pytest.mark.parametrize(("scheme", "header"), PLATFORM_HEADERS)
def test_no_signature_header_is_missing(scheme, header):
    assert problem_code(scheme, request({}), [SECRET]) == "missing_webhook_signature"


@pytest.mark.parametrize(("scheme", "header"), PLATFORM_HEADERS)
def test_garbage_in_the_header_fails_cleanly(scheme, header):
    assert problem_code(scheme, request({header: "not base64 !!"}), [SECRET]) == (
        "invalid_webhook_signature"
    )


@pytest.mark.parametrize(("scheme", "header"), PLATFORM_HEADERS)
def test_any_of_the_verifying_secrets_is_enough(scheme, header):
    signed = request({header: base64_hmac(OTHER_SECRET, BODY)})
    assert problem_code(scheme, signed, [SECRET, OTHER_SECRET]) is None


# --- HubSpot v3 and v1 ----------------------------------------------------------------------


def hubspot_v3(secret: str, body: bytes, url: str, millis: int, method: str = "POST") -> str:
    signed = method.encode() + url.encode() + body + str(millis).encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def v3_headers(secret: str = SECRET, millis: int | None = None, url: str = URL) -> dict[str, str]:
    millis = int(time.time() * 1000) if millis is None else millis
    return {
        "X-HubSpot-Signature-v3": hubspot_v3(secret, BODY, url, millis),
        "X-HubSpot-Request-Timestamp": str(millis),
    }


def test_hubspot_v3_verifies_method_url_body_and_timestamp():
    assert problem_code(Scheme.HUBSPOT, request(v3_headers()), [SECRET]) is None


def test_hubspot_v3_signed_for_another_url_fails():
    headers = v3_headers(url=URL.replace("gateway.example.com", "evil.example.com"))
    assert problem_code(Scheme.HUBSPOT, request(headers), [SECRET]) == "invalid_webhook_signature"


def test_hubspot_v3_older_than_five_minutes_is_expired_even_when_correctly_signed():
    old = int((time.time() - 301) * 1000)
    code = problem_code(Scheme.HUBSPOT, request(v3_headers(millis=old)), [SECRET])
    assert code == "webhook_timestamp_expired"


def test_hubspot_v3_with_a_changed_timestamp_fails():
    headers = v3_headers()
    headers["X-HubSpot-Request-Timestamp"] = str(int(headers["X-HubSpot-Request-Timestamp"]) + 1)
    assert problem_code(Scheme.HUBSPOT, request(headers), [SECRET]) == "invalid_webhook_signature"


def test_hubspot_v3_without_its_timestamp_is_refused():
    headers = v3_headers()
    del headers["X-HubSpot-Request-Timestamp"]
    assert problem_code(Scheme.HUBSPOT, request(headers), [SECRET]) == "missing_webhook_signature"


def test_hubspot_v1_is_hex_sha256_of_secret_and_body():
    signature = hashlib.sha256(SECRET.encode() + BODY).hexdigest()
    headers = {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v1"}
    assert problem_code(Scheme.HUBSPOT, request(headers), [SECRET]) is None
    wrong = {"X-HubSpot-Signature": hashlib.sha256(OTHER_SECRET.encode() + BODY).hexdigest()}
    assert problem_code(Scheme.HUBSPOT, request(wrong), [SECRET]) == "invalid_webhook_signature"


def test_hubspot_unsigned_is_missing():
    assert problem_code(Scheme.HUBSPOT, request({}), [SECRET]) == "missing_webhook_signature"


# --- Standard Webhooks, against the reference implementation --------------------------------


def standard_headers(
    secret: str = STANDARD_SECRET, body: bytes = BODY, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    message_id = "msg_2bQ4pT1nVYHX"
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
    }


def test_a_standard_webhooks_signature_made_by_the_reference_library_verifies():
    headers = standard_headers()
    Webhook(STANDARD_SECRET).verify(BODY, headers)  # the reference agrees it is valid
    assert problem_code(Scheme.STANDARD_WEBHOOKS, request(headers), [STANDARD_SECRET]) is None


def test_standard_webhooks_accepts_any_listed_signature_for_rotation():
    old_secret = "whsec_" + base64.b64encode(b"o" * 32).decode()
    headers = standard_headers(old_secret)
    other = standard_headers()["webhook-signature"]
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    assert problem_code(Scheme.STANDARD_WEBHOOKS, request(headers), [old_secret]) is None


def test_standard_webhooks_rejects_what_the_reference_rejects():
    headers = standard_headers()
    tampered = BODY + b" "
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(STANDARD_SECRET).verify(tampered, headers)
    code = problem_code(
        Scheme.STANDARD_WEBHOOKS, request(headers, body=tampered), [STANDARD_SECRET]
    )
    assert code == "invalid_webhook_signature"


def test_standard_webhooks_too_old_is_expired():
    stale = datetime.fromtimestamp(time.time() - 301, UTC)
    headers = standard_headers(at=stale)
    with pytest.raises(Exception, match="too old"):
        Webhook(STANDARD_SECRET).verify(BODY, headers)
    code = problem_code(Scheme.STANDARD_WEBHOOKS, request(headers), [STANDARD_SECRET])
    assert code == "webhook_timestamp_expired"


def test_standard_webhooks_without_its_headers_is_missing():
    headers = standard_headers()
    del headers["webhook-signature"]
    code = problem_code(Scheme.STANDARD_WEBHOOKS, request(headers), [STANDARD_SECRET])
    assert code == "missing_webhook_signature"


@pytest.mark.parametrize("signature", ["v1", "v1,", "v2,abc", "v1,@@@", ",,,", "v1,a b"])
def test_malformed_signature_lists_fail_cleanly(signature):
    headers = standard_headers() | {"webhook-signature": signature}
    code = problem_code(Scheme.STANDARD_WEBHOOKS, request(headers), [STANDARD_SECRET])
    assert code == "invalid_webhook_signature"
