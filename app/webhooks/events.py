"""What a verified delivery means: the platform's events in it, each with its delivery/event id
(the dedupe key) and what to do with it — ingest a full record, or record a change notice."""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.contracts.entities import Entity
from app.contracts.fields import SourcePlatform
from app.transform.loader import mappings


class NoticeReason(StrEnum):
    ID_ONLY = "id_only"  # the platform sent ids, not the record: pull it and push it
    DELETED = "deleted"  # the stored record is archived (see app.ams.archival)
    NO_MAPPING = "no_mapping"  # a full record, but no mapping rules for it yet
    UNSUPPORTED_TOPIC = "unsupported_topic"  # an event the gateway does not act on


NOTICE_MESSAGES = {
    NoticeReason.ID_ONLY: "The platform sent only ids: read the record from the platform and "
    "push it (ingestRaw or the entity's ingest call).",
    NoticeReason.DELETED: "A deletion: the stored record is archived (its AMS row is marked "
    "Archived on the next sync); a later push with a newer source_updated_at brings it back.",
    NoticeReason.NO_MAPPING: "The record was not ingested: there are no mapping rules for {what}. "
    "Map it to the standard schema and push it.",
    NoticeReason.UNSUPPORTED_TOPIC: "The gateway does not act on {what} events; nothing was "
    "ingested.",
}

# Full-record topics: the body is the platform's REST resource.
FULL_RECORD_TOPICS: Mapping[SourcePlatform, Mapping[str, Entity]] = {
    SourcePlatform.SHOPIFY: {
        "products/create": Entity.PRODUCT,
        "products/update": Entity.PRODUCT,
        "customers/create": Entity.AUDIENCE,
        "customers/update": Entity.AUDIENCE,
    },
    SourcePlatform.WOOCOMMERCE: {
        "product.created": Entity.PRODUCT,
        "product.updated": Entity.PRODUCT,
        "product.restored": Entity.PRODUCT,
        "customer.created": Entity.AUDIENCE,
        "customer.updated": Entity.AUDIENCE,
    },
}
DELETE_TOPICS: Mapping[SourcePlatform, Mapping[str, Entity]] = {
    SourcePlatform.SHOPIFY: {
        "products/delete": Entity.PRODUCT,
        "customers/delete": Entity.AUDIENCE,
    },
    SourcePlatform.WOOCOMMERCE: {
        "product.deleted": Entity.PRODUCT,
        "customer.deleted": Entity.AUDIENCE,
    },
}
# Standard Webhooks events forwarded by partners: `{"type": "<entity>.<action>", "data": ...}`.
STANDARD_ACTIONS = frozenset({"created", "updated"})


@dataclass(frozen=True)
class Ingest:
    entity: Entity
    records: list[Any]
    platform: SourcePlatform | None  # None: the records are in the standard schema shape


@dataclass(frozen=True)
class Notice:
    reason: NoticeReason
    message: str
    object_type: str | None = None
    object_id: str | None = None
    occurred_at: datetime | None = None
    payload: dict[str, Any] | None = None  # id-only events are kept as sent
    deleted: Entity | None = None  # a deletion of this entity's record `object_id`


@dataclass(frozen=True)
class Event:
    delivery_id: str
    topic: str
    action: Ingest | Notice


def body_digest(body: bytes) -> str:
    """The dedupe key of a delivery that names no id of its own: its exact bytes."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _record_event(platform: SourcePlatform, topic: str, delivery_id: str, document: Any) -> Event:
    """Shopify and WooCommerce: the body is one resource; the topic says what happened."""
    object_id = _text(document.get("id")) if isinstance(document, dict) else None
    object_type = topic.replace("/", ".").split(".")[0] or None
    entity = FULL_RECORD_TOPICS.get(platform, {}).get(topic)
    if entity is not None:
        return Event(delivery_id, topic, _ingest_or_notice(platform, entity, [document], object_id))
    deleted = DELETE_TOPICS.get(platform, {}).get(topic)
    reason = NoticeReason.UNSUPPORTED_TOPIC if deleted is None else NoticeReason.DELETED
    message = NOTICE_MESSAGES[reason].format(what=f"{platform.value} {topic!r}")
    notice = Notice(reason, message, object_type, object_id, deleted=deleted)
    return Event(delivery_id, topic, notice)


def _ingest_or_notice(
    platform: SourcePlatform | None, entity: Entity, records: list[Any], object_id: str | None
) -> Ingest | Notice:
    if platform is None or (platform, entity) in mappings():
        return Ingest(entity, records, platform)
    what = f"{platform.value} {entity.value} records"
    message = NOTICE_MESSAGES[NoticeReason.NO_MAPPING].format(what=what)
    return Notice(NoticeReason.NO_MAPPING, message, entity.value, object_id)


def shopify_events(headers: Mapping[str, str], body: bytes, document: Any) -> list[Event]:
    delivery_id = (
        headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
    ) or body_digest(body)
    topic = headers.get("x-shopify-topic", "")
    return [_record_event(SourcePlatform.SHOPIFY, topic, delivery_id, document)]


def woocommerce_events(headers: Mapping[str, str], body: bytes, document: Any) -> list[Event]:
    delivery_id = headers.get("x-wc-webhook-delivery-id") or body_digest(body)
    topic = headers.get("x-wc-webhook-topic", "")
    return [_record_event(SourcePlatform.WOOCOMMERCE, topic, delivery_id, document)]


def hubspot_events(headers: Mapping[str, str], body: bytes, document: Any) -> list[Event]:
    """A batch of id-only events, each deduplicated on its own eventId."""
    items = document if isinstance(document, list) else [document]
    return [_hubspot_event(item, body, position) for position, item in enumerate(items)]


def _hubspot_event(item: Any, body: bytes, position: int) -> Event:
    event = item if isinstance(item, dict) else {}
    event_id = _text(event.get("eventId")) or f"{body_digest(body)}#{position}"
    topic = _text(event.get("subscriptionType")) or ""
    object_type, _, change = topic.partition(".")
    reason = NoticeReason.DELETED if change == "deletion" else NoticeReason.ID_ONLY
    notice = Notice(
        reason,
        NOTICE_MESSAGES[reason],
        object_type or None,
        _text(event.get("objectId")),
        _epoch_millis(event.get("occurredAt")),
        event or {"value": item},
    )
    return Event(event_id, topic, notice)


def _epoch_millis(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def standard_events(
    platform: SourcePlatform, headers: Mapping[str, str], document: Any
) -> list[Event]:
    """A partner-forwarded event: `type` is `<entity>.<created|updated|deleted>`; `data` is the
    record (or a list of records) in the platform's shape, or the standard shape for `custom`."""
    event = document if isinstance(document, dict) else {}
    delivery_id = headers["webhook-id"]  # verified to be there
    topic = _text(event.get("type")) or ""
    noun, _, action = topic.rpartition(".")
    data = event.get("data")
    object_id = _standard_object_id(platform, data)
    record_platform = None if platform is SourcePlatform.CUSTOM else platform
    try:
        entity = Entity(noun)
    except ValueError:
        entity = None
    if entity is not None and action in STANDARD_ACTIONS and data is not None:
        records = data if isinstance(data, list) else [data]
        action_taken = _ingest_or_notice(record_platform, entity, records, object_id)
        return [Event(delivery_id, topic, action_taken)]
    reason = NoticeReason.DELETED if action == "deleted" else NoticeReason.UNSUPPORTED_TOPIC
    message = NOTICE_MESSAGES[reason].format(what=f"{platform.value} {topic!r}")
    return [Event(delivery_id, topic, Notice(reason, message, noun or None, object_id))]


def _standard_object_id(platform: SourcePlatform, data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    key = "external_id" if platform is SourcePlatform.CUSTOM else "Id"
    return _text(data.get(key) or data.get("id"))


def events_of(
    platform: SourcePlatform, headers: Mapping[str, str], body: bytes, document: Any
) -> list[Event]:
    if platform is SourcePlatform.SHOPIFY:
        return shopify_events(headers, body, document)
    if platform is SourcePlatform.WOOCOMMERCE:
        return woocommerce_events(headers, body, document)
    if platform is SourcePlatform.HUBSPOT:
        return hubspot_events(headers, body, document)
    return standard_events(platform, headers, document)
