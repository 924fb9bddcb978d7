"""Checking that a delivery really comes from the platform: each platform's signature recipe over
the raw body bytes, before anything parses them. Every comparison is constant-time."""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.contracts.fields import SourcePlatform

STANDARD_SECRET_PREFIX = "whsec_"


class Scheme(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    HUBSPOT = "hubspot"
    STANDARD_WEBHOOKS = "standard_webhooks"


SCHEMES = {
    SourcePlatform.SHOPIFY: Scheme.SHOPIFY,
    SourcePlatform.WOOCOMMERCE: Scheme.WOOCOMMERCE,
    SourcePlatform.HUBSPOT: Scheme.HUBSPOT,
    # Salesforce signs nothing itself: partners forward its events re-signed.
    SourcePlatform.SALESFORCE: Scheme.STANDARD_WEBHOOKS,
    SourcePlatform.CUSTOM: Scheme.STANDARD_WEBHOOKS,
}


class SignatureProblem(Exception):
    """Why a delivery is not accepted as authentic: `code` is what the caller sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str  # as the platform called it (HubSpot v3 signs it)
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def _missing(header: str) -> SignatureProblem:
    return SignatureProblem(
        "missing_webhook_signature", f"The delivery carries no {header} header: it is not signed."
    )


def _mismatch() -> SignatureProblem:
    return SignatureProblem(
        "invalid_webhook_signature",
        "The signature does not match this connection's secret for the exact body received.",
    )


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _any_matches(presented: bytes | None, expected: Sequence[bytes]) -> bool:
    if presented is None:
        return False
    # Compare against every candidate so timing says nothing about which secret matched.
    results = [hmac.compare_digest(presented, candidate) for candidate in expected]
    return any(results)


def _check_timestamp(seconds: float, now: float, tolerance: float) -> None:
    if abs(now - seconds) > tolerance:
        raise SignatureProblem(
            "webhook_timestamp_expired",
            f"The signed timestamp is more than {int(tolerance)} seconds from the gateway's "
            "clock: the delivery is too old (a replay?) or the sender's clock is wrong.",
        )


def verify_base64_hmac(request: SignedRequest, secrets: Sequence[str], header: str) -> None:
    """Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body))."""
    presented = request.headers.get(header.lower())
    if not presented:
        raise _missing(header)
    expected = [_hmac_sha256(secret.encode(), request.body) for secret in secrets]
    if not _any_matches(_base64(presented), expected):
        raise _mismatch()


def verify_hubspot(
    request: SignedRequest, secrets: Sequence[str], tolerance: float, now: float | None = None
) -> None:
    """v3 (method + URI + body + timestamp, HMAC, base64, time-boxed) when its header is there,
    else v1 (hex SHA-256 of secret + body)."""
    if "x-hubspot-signature-v3" in request.headers:
        _verify_hubspot_v3(request, secrets, tolerance, time.time() if now is None else now)
        return
    presented = request.headers.get("x-hubspot-signature")
    if not presented:
        raise _missing("X-HubSpot-Signature-v3")
    version = request.headers.get("x-hubspot-signature-version", "v1").lower()
    if version != "v1":
        raise SignatureProblem(
            "unsupported_webhook_signature",
            f"HubSpot signature version {version!r} is not accepted: use v3 (or v1).",
        )
    expected = [hashlib.sha256(secret.encode() + request.body).hexdigest() for secret in secrets]
    if not _any_matches(presented.strip().lower().encode(), [e.encode() for e in expected]):
        raise _mismatch()


def _verify_hubspot_v3(
    request: SignedRequest, secrets: Sequence[str], tolerance: float, now: float
) -> None:
    stamp = request.headers.get("x-hubspot-request-timestamp", "")
    try:
        millis = int(stamp)
    except ValueError:
        raise SignatureProblem(
            "missing_webhook_signature",
            "A v3 signature needs X-HubSpot-Request-Timestamp in milliseconds.",
        ) from None
    _check_timestamp(millis / 1000, now, tolerance)
    signed = request.method.encode() + request.url.encode() + request.body + stamp.encode()
    expected = [_hmac_sha256(secret.encode(), signed) for secret in secrets]
    if not _any_matches(_base64(request.headers["x-hubspot-signature-v3"]), expected):
        raise _mismatch()


def standard_secret_bytes(secret: str) -> bytes | None:
    """The key of a Standard Webhooks secret (`whsec_` + base64), or None when malformed."""
    if not secret.startswith(STANDARD_SECRET_PREFIX):
        return None
    return _base64(secret.removeprefix(STANDARD_SECRET_PREFIX))


def verify_standard_webhooks(
    request: SignedRequest, secrets: Sequence[str], tolerance: float, now: float | None = None
) -> None:
    """`{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256, any `v1,<base64>` in the list."""
    message_id = request.headers.get("webhook-id")
    stamp = request.headers.get("webhook-timestamp")
    signatures = request.headers.get("webhook-signature")
    if not (message_id and stamp and signatures):
        raise _missing("webhook-id, webhook-timestamp and webhook-signature")
    try:
        seconds = int(stamp)
    except ValueError:
        raise SignatureProblem(
            "invalid_webhook_signature", "webhook-timestamp must be Unix seconds."
        ) from None
    _check_timestamp(seconds, time.time() if now is None else now, tolerance)
    signed = f"{message_id}.{stamp}.".encode() + request.body
    keys = [key for key in map(standard_secret_bytes, secrets) if key]
    expected = [_hmac_sha256(key, signed) for key in keys]
    presented = [
        _base64(value)
        for version, _, value in (entry.partition(",") for entry in signatures.split())
        if version == "v1"
    ]
    if not any([_any_matches(candidate, expected) for candidate in presented]):
        raise _mismatch()


def verify(
    scheme: Scheme, request: SignedRequest, secrets: Sequence[str], tolerance: float
) -> None:
    """Raise SignatureProblem unless one of the secrets signed this request."""
    if scheme is Scheme.SHOPIFY:
        verify_base64_hmac(request, secrets, "X-Shopify-Hmac-Sha256")
    elif scheme is Scheme.WOOCOMMERCE:
        verify_base64_hmac(request, secrets, "X-WC-Webhook-Signature")
    elif scheme is Scheme.HUBSPOT:
        verify_hubspot(request, secrets, tolerance)
    else:
        verify_standard_webhooks(request, secrets, tolerance)
