"""The verbs on a tenant's subscriber endpoints, deliveries and events. Every query is scoped by
the tenant: another client's ids answer exactly like ids that do not exist."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.encryption import encrypt
from app.errors import FieldError, GatewayError, NotFoundError
from app.events.catalog import EventType, UnknownEventType, event_type
from app.events.models import DeliveryStatus, Event, EventDelivery, WebhookEndpoint
from app.events.signing import new_secret
from app.events.store import cancel_pending, insert_deliveries, new_delivery
from app.events.urls import check_reachable_publicly
from app.ids import new_id
from app.pagination import Page, newest_first
from app.settings import Settings
from app.tenancy.models import Tenant

MAX_DESCRIPTION = 500
MAX_PREVIOUS_SECRET_VALIDITY = timedelta(days=7)
MAX_REPLAY_EVENTS = 10_000
REPLAY_UPDATE_BATCH = 500


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once, on creation or rotation


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(code: str, message: str, path: str) -> GatewayError:
    return GatewayError(code, message, errors=[FieldError(code, message, (path,))])


def _event_types(names: Sequence[str]) -> list[str]:
    if not names:
        raise _invalid("invalid_event_types", "Subscribe to at least one event type.", "eventTypes")
    try:
        return sorted({event_type(name).value for name in names})
    except UnknownEventType as unknown:
        known = ", ".join(t.value for t in EventType)
        raise _invalid(
            "unknown_event_type", f"Unknown event type {unknown}; known: {known}.", "eventTypes"
        ) from None


def _description(text: str | None) -> str | None:
    if text is not None and len(text) > MAX_DESCRIPTION:
        message = f"At most {MAX_DESCRIPTION} characters."
        raise _invalid("invalid_description", message, "description")
    return text


async def create_endpoint(
    session: AsyncSession,
    settings: Settings,
    tenant: Tenant,
    url: str,
    event_types: Sequence[str],
    description: str | None,
) -> EndpointWithSecret:
    await check_reachable_publicly(url, tenant.livemode)
    secret, now = new_secret(), _now()
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        client_id=tenant.client_id,
        livemode=tenant.livemode,
        url=url,
        description=_description(description),
        event_types=_event_types(event_types),
        enabled=True,
        secret=encrypt(settings, secret),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    return EndpointWithSecret(endpoint, secret)


async def get_endpoint(session: AsyncSession, tenant: Tenant, endpoint_id: str) -> WebhookEndpoint:
    found = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.client_id == tenant.client_id,
            WebhookEndpoint.livemode == tenant.livemode,
            WebhookEndpoint.deleted_at.is_(None),
        )
    )
    if found is None:
        raise NotFoundError("webhook endpoint")
    return found


async def list_endpoints(
    session: AsyncSession, tenant: Tenant, first: int, after: str | None
) -> Page[WebhookEndpoint]:
    """Newest first."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.client_id == tenant.client_id,
        WebhookEndpoint.livemode == tenant.livemode,
        WebhookEndpoint.deleted_at.is_(None),
    )
    return await newest_first(session, query, WebhookEndpoint.id, first, after)


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    event_types: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None


async def update_endpoint(
    session: AsyncSession, tenant: Tenant, endpoint_id: str, changes: EndpointChanges
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, tenant, endpoint_id)
    if changes.url is not None:
        await check_reachable_publicly(changes.url, tenant.livemode)
        endpoint.url = changes.url
    if changes.event_types is not None:
        endpoint.event_types = _event_types(changes.event_types)
    if changes.description is not None:
        endpoint.description = _description(changes.description)
    if changes.enabled is not None and changes.enabled != endpoint.enabled:
        endpoint.enabled = changes.enabled
        endpoint.disabled_reason = None if changes.enabled else "Disabled by the client."
        if not changes.enabled:
            await cancel_pending(session, endpoint.id, "The endpoint was disabled.")
    endpoint.updated_at = _now()
    return endpoint


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    tenant: Tenant,
    endpoint_id: str,
    previous_valid_for: timedelta,
) -> EndpointWithSecret:
    """A new secret signs from now on; the current one keeps signing alongside it for
    `previous_valid_for` (zero: it stops at once), so receivers can switch without a gap."""
    if not timedelta(0) <= previous_valid_for <= MAX_PREVIOUS_SECRET_VALIDITY:
        days = MAX_PREVIOUS_SECRET_VALIDITY.days
        message = f"Between 0 seconds and {days} days."
        raise _invalid("invalid_overlap", message, "previousSecretValidForSeconds")
    endpoint = await get_endpoint(session, tenant, endpoint_id)
    secret, now = new_secret(), _now()
    endpoint.previous_secret = endpoint.secret if previous_valid_for else None
    endpoint.previous_secret_expires_at = now + previous_valid_for if previous_valid_for else None
    endpoint.secret = encrypt(settings, secret)
    endpoint.updated_at = now
    return EndpointWithSecret(endpoint, secret)


async def delete_endpoint(session: AsyncSession, tenant: Tenant, endpoint_id: str) -> None:
    """Its delivery history stays readable to operators; the endpoint is gone for the client."""
    endpoint = await get_endpoint(session, tenant, endpoint_id)
    endpoint.deleted_at = endpoint.updated_at = _now()
    endpoint.enabled = False
    await cancel_pending(session, endpoint.id, "The endpoint was deleted.")


async def list_deliveries(
    session: AsyncSession,
    tenant: Tenant,
    first: int,
    after: str | None,
    endpoint_id: str | None = None,
    status: DeliveryStatus | None = None,
) -> Page[EventDelivery]:
    """Newest first, each with its attempts."""
    query = (
        select(EventDelivery)
        .where(
            EventDelivery.client_id == tenant.client_id,
            EventDelivery.livemode == tenant.livemode,
        )
        .options(selectinload(EventDelivery.attempt_log))
    )
    if endpoint_id is not None:
        query = query.where(EventDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(EventDelivery.status == status.value)
    return await newest_first(session, query, EventDelivery.id, first, after)


async def list_events(
    session: AsyncSession,
    tenant: Tenant,
    first: int,
    after: str | None,
    type_: EventType | None = None,
) -> Page[Event]:
    """Newest first."""
    query = select(Event).where(
        Event.client_id == tenant.client_id, Event.livemode == tenant.livemode
    )
    if type_ is not None:
        query = query.where(Event.type == type_.value)
    return await newest_first(session, query, Event.id, first, after)


@dataclass(frozen=True)
class ReplaySelection:
    """Either event ids, or a time range of when events were recorded (until: now if omitted)."""

    event_ids: Sequence[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    endpoint_id: str | None = None  # None: every enabled endpoint subscribed to the event


@dataclass(frozen=True)
class Replayed:
    events: int
    deliveries: int


async def _selected_events(
    session: AsyncSession, tenant: Tenant, selection: ReplaySelection
) -> list[Event]:
    query = select(Event).where(
        Event.client_id == tenant.client_id, Event.livemode == tenant.livemode
    )
    if selection.event_ids is not None:
        if selection.since is not None or selection.until is not None:
            message = "Give either eventIds or since/until, not both."
            raise _invalid("ambiguous_replay", message, "eventIds")
        wanted = list(dict.fromkeys(selection.event_ids))
        if not 1 <= len(wanted) <= MAX_REPLAY_EVENTS:
            message = f"Give 1 to {MAX_REPLAY_EVENTS} event ids."
            raise _invalid("invalid_event_ids", message, "eventIds")
        found = list(await session.scalars(query.where(Event.id.in_(wanted))))
        missing = set(wanted) - {event.id for event in found}
        if missing:
            raise GatewayError(
                "not_found",
                "No event with that id.",
                kind="not_found",
                errors=[
                    FieldError("not_found", "No event with that id.", ("eventIds", index))
                    for index, event_id in enumerate(wanted)
                    if event_id in missing
                ],
            )
        return sorted(found, key=lambda event: event.id)
    if selection.since is None:
        message = "Give eventIds, or since (and optionally until)."
        raise _invalid("replay_selection_required", message, "since")
    until = selection.until or _now()
    if until <= selection.since:
        raise _invalid("invalid_range", "until must be after since.", "until")
    query = query.where(Event.created_at >= selection.since, Event.created_at < until)
    found = list(await session.scalars(query.order_by(Event.id).limit(MAX_REPLAY_EVENTS + 1)))
    if len(found) > MAX_REPLAY_EVENTS:
        message = f"More than {MAX_REPLAY_EVENTS} events in that range; replay a shorter one."
        raise _invalid("replay_too_large", message, "since")
    return found


async def _replay_endpoints(
    session: AsyncSession, tenant: Tenant, endpoint_id: str | None
) -> list[WebhookEndpoint]:
    if endpoint_id is None:
        found = await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.client_id == tenant.client_id,
                WebhookEndpoint.livemode == tenant.livemode,
                WebhookEndpoint.enabled.is_(True),
                WebhookEndpoint.deleted_at.is_(None),
            )
        )
        return list(found)
    endpoint = await get_endpoint(session, tenant, endpoint_id)
    if not endpoint.enabled:
        message = "The endpoint is disabled; enable it before replaying events to it."
        raise _invalid("endpoint_disabled", message, "endpointId")
    return [endpoint]


async def replay(session: AsyncSession, tenant: Tenant, selection: ReplaySelection) -> Replayed:
    """Send the selected events again (same webhook-id, so receivers can dedupe) to each
    endpoint subscribed to their type: their deliveries start a fresh retry schedule."""
    endpoints = await _replay_endpoints(session, tenant, selection.endpoint_id)
    events = await _selected_events(session, tenant, selection)
    pairs = [
        (event, endpoint)
        for event in events
        for endpoint in endpoints
        if event.type in endpoint.event_types
    ]
    now = _now()
    for endpoint in endpoints:
        event_ids = [event.id for event, paired in pairs if paired is endpoint]
        for start in range(0, len(event_ids), REPLAY_UPDATE_BATCH):
            await session.execute(
                update(EventDelivery)
                .where(
                    EventDelivery.endpoint_id == endpoint.id,
                    EventDelivery.event_id.in_(event_ids[start : start + REPLAY_UPDATE_BATCH]),
                )
                .values(
                    status=DeliveryStatus.PENDING.value,
                    retry_step=0,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )
    await insert_deliveries(
        session, [new_delivery(event.id, event.type, endpoint) for event, endpoint in pairs]
    )
    return Replayed(events=len(events), deliveries=len(pairs))
