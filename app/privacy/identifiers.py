"""Who a request is about: one identifier (email, phone or external id, optionally with the
platform), normalised as ingest normalises it, and its salted hash: the only form in which it
outlives the request (audit rows, erasure runs, the suppression list)."""

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from app.contracts.fields import SourcePlatform
from app.privacy.errors import PrivacyNotConfigured, invalid_subject
from app.settings import Settings
from app.tenancy.models import Tenant
from app.transform.errors import NormalisationError
from app.transform.normalise.emails import normalise_email
from app.transform.normalise.phones import normalise_phone

MAX_EXTERNAL_ID = 255
_HASH_PURPOSE = b"gateway/privacy/subject-hash/v1"


class IdentifierKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL_ID = "external_id"


@dataclass(frozen=True)
class Subject:
    kind: IdentifierKind
    value: str  # normalised: emails lower-cased, phones E.164
    platform: SourcePlatform | None = None


def subject_of(
    email: str | None,
    phone: str | None,
    external_id: str | None,
    platform: SourcePlatform | None,
    default_region: str | None,
) -> Subject:
    """Exactly one identifier, normalised; a field-level error otherwise (never echoing it)."""
    given = [
        (kind, value)
        for kind, value in (
            (IdentifierKind.EMAIL, email),
            (IdentifierKind.PHONE, phone),
            (IdentifierKind.EXTERNAL_ID, external_id),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise invalid_subject(
            "invalid_subject", "Give exactly one of email, phone or externalId.", None
        )
    kind, value = given[0]
    try:
        if kind is IdentifierKind.EMAIL:
            return Subject(kind, normalise_email(value), platform)
        if kind is IdentifierKind.PHONE:
            return Subject(kind, normalise_phone(value, default_region), platform)
    except NormalisationError as error:
        field = "email" if kind is IdentifierKind.EMAIL else "phone"
        raise invalid_subject(error.code, error.message, field) from None
    value = value.strip()
    if not 1 <= len(value) <= MAX_EXTERNAL_ID:
        message = f"externalId must be 1 to {MAX_EXTERNAL_ID} characters."
        raise invalid_subject("invalid_external_id", message, "externalId")
    return Subject(kind, value, platform)


def _hash_key(settings: Settings) -> bytes:
    if not settings.secret_key:
        raise PrivacyNotConfigured()
    return hmac.new(settings.secret_key.encode(), _HASH_PURPOSE, hashlib.sha256).digest()


def identifier_hash(
    settings: Settings, tenant: Tenant, kind: IdentifierKind, value: str, platform: str | None
) -> str:
    """HMAC-SHA256 keyed from the gateway's secret, per tenant: the same person hashes the same
    within a client, and differently across clients."""
    message = f"{tenant.client_id}\x1f{int(tenant.livemode)}\x1f{kind.value}\x1f{platform or ''}"
    message += f"\x1f{value}"
    return hmac.new(_hash_key(settings), message.encode(), hashlib.sha256).hexdigest()


def subject_hash(settings: Settings, tenant: Tenant, subject: Subject) -> str:
    platform = subject.platform.value if subject.platform else None
    return identifier_hash(settings, tenant, subject.kind, subject.value, platform)
