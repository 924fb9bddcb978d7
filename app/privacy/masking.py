"""How personal values are shown to a caller: masked (app.rules.redaction.mask: enough to
recognise a value one holds, never enough to read it) unless the caller's key holds `pii:read`.

One policy for every read of audience data through the API: canonical records, linked records,
quarantine entries and webhook notices. Standard-shaped documents are masked at the entity's
personal fields (its rules file's `personal_fields`); a platform's own shapes name personal fields
their own way, so everything in them is masked (keys, list lengths, booleans and nulls kept),
except a webhook event's own fields (its id, type, object id, changed property's name).
"""

from typing import Any

from app.contracts.entities import Entity
from app.rules.loader import default_rules
from app.rules.redaction import mask_all, mask_paths
from app.tenancy.models import Principal, Scope

Path = tuple[str | int, ...]


def reveals_personal(principal: Principal | None) -> bool:
    return principal is not None and Scope.PII_READ.value in principal.scopes


def personal_paths(entity: Entity | str) -> list[Path]:
    return [path.segments for path in default_rules()[Entity(entity)].personal]


def shown_standard(entity: Entity | str, document: Any, reveal: bool) -> Any:
    """A standard-shaped document (a record, a fix, a linked record's data) as the caller
    sees it."""
    paths = personal_paths(entity)
    if reveal or not paths or document is None:
        return document
    return mask_paths(document, paths)


def shown_native(document: Any, reveal: bool) -> Any:
    """A document in a platform's own shape (a raw payload, a webhook body) as the caller sees
    it: every value masked unless the caller may read personal data."""
    return document if reveal else mask_all(document)


# Webhook notices keep the event as sent (HubSpot's id-only events): these keys name the event,
# never a person, so they stay readable; every other value (propertyValue, sourceId…) is masked.
NOTICE_STRUCTURE = frozenset(
    {"eventId", "subscriptionId", "portalId", "appId", "occurredAt", "subscriptionType"}
    | {"attemptNumber", "objectId", "propertyName", "changeSource", "changeFlag"}
)


def shown_notice(payload: Any, reveal: bool) -> Any:
    """A webhook notice's payload: a platform's own shape, its event fields kept."""
    if reveal or not isinstance(payload, dict):
        return shown_native(payload, reveal)
    return {
        key: value if key in NOTICE_STRUCTURE else mask_all(value) for key, value in payload.items()
    }


def shown_input(entity: Entity | str, document: Any, native: bool, reveal: bool) -> Any:
    """A record as received, in the standard shape or (native) a platform's own, of an entity
    (only entities with personal fields are masked)."""
    if native and personal_paths(entity):
        return shown_native(document, reveal)
    return shown_standard(entity, document, reveal)
