"""Recording events: in the caller's transaction, so an event exists if and only if the change it
reports was committed. Delivery happens later, elsewhere (app.events.relay); a commit that holds
events wakes the relays of this process."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.catalog import EventType, check_payload
from app.events.models import Event
from app.ids import new_id
from app.observability.tracing import current_trace_id
from app.tenancy.models import Tenant

_listeners: set[Callable[[], None]] = set()


def subscribe(listener: Callable[[], None]) -> None:
    """Call `listener` (on the event loop's thread) after each commit that recorded events."""
    _listeners.add(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    _listeners.discard(listener)


def _notify(_session: Any) -> None:
    for listener in list(_listeners):
        listener()


def event_body(
    type_: EventType, created_at: datetime, data: dict[str, Any], trace_id: str | None = None
) -> str:
    document = {"type": type_.value, "timestamp": created_at, "data": data, "trace_id": trace_id}
    return orjson.dumps(document, option=orjson.OPT_UTC_Z, default=str).decode()


def record_event(
    session: AsyncSession, tenant: Tenant, type_: EventType, data: dict[str, Any]
) -> Event:
    """Add the event to the session's transaction; `data` must match the catalogue's shape."""
    check_payload(type_, data)
    now = datetime.now(UTC)
    row = Event(
        id=new_id("evt"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        type=type_.value,
        body=event_body(type_, now, data, current_trace_id()),
        created_at=now,
    )
    session.add(row)
    sync_session = session.sync_session
    if not event.contains(sync_session, "after_commit", _notify):
        event.listen(sync_session, "after_commit", _notify)
    return row
