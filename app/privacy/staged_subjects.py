"""Whom a staged audience payload names: its email and external id, read once when the record is
staged and kept in indexed columns, so erasure finds a person's raw payloads by index.

Payloads are the records as received: the standard shape or a platform's own (HubSpot
`properties.email`, Salesforce `Email`, WooCommerce `billing.email`, platform ids in `id`/`Id`),
so the email is lower-cased here. Reading the JSON in an index expression instead made the
database parse every staged payload, products included, twice per insert: most of the cost of
staging a batch. A value longer than MAX_SUBJECT is not kept (no email or id is that long; an
index entry that big would fail the insert).
"""

from typing import Any

import orjson

EMAIL_PATHS = (("email",), ("properties", "email"), ("Email",), ("billing", "email"))
ID_KEYS = ("external_id", "id", "Id")
MAX_SUBJECT = 512
Subject = tuple[str | None, str | None]  # (email, external id)
NO_SUBJECT: Subject = (None, None)


def email_in(payload: dict[str, Any]) -> str | None:
    """The payload's email, lower-cased (the first present path)."""
    for path in EMAIL_PATHS:
        value: Any = payload
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            return str(value).lower()
    return None


def id_in(payload: dict[str, Any]) -> str | None:
    for key in ID_KEYS:
        if payload.get(key) is not None:
            return str(payload[key])
    return None


def staged_subject(payload: bytes | str) -> Subject:
    """(email, external id) of one staged audience payload, as stored in its row."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return NO_SUBJECT
    return subject_in(value)


def subject_in(value: Any) -> Subject:
    """(email, external id) of one audience record already parsed, as stored in its row."""
    if not isinstance(value, dict):
        return NO_SUBJECT
    return _kept(email_in(value)), _kept(id_in(value))


def _kept(value: str | None) -> str | None:
    return value if value is not None and len(value) <= MAX_SUBJECT else None
