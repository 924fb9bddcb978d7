"""Change events out: the event catalogue, subscriber webhook endpoints, deliveries, replay."""

from datetime import datetime, timedelta

import orjson
import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import PageInfo, UserError
from app.db.engine import reading
from app.errors import GatewayError
from app.events import service as events
from app.events.catalog import CATALOG, UnknownEventType, event_type
from app.events.models import DeliveryStatus
from app.events.models import Event as EventRow
from app.events.models import EventDelivery as EventDeliveryRow
from app.events.models import EventDeliveryAttempt as EventDeliveryAttemptRow
from app.events.models import WebhookEndpoint as WebhookEndpointRow
from app.tenancy import policy
from app.tenancy.models import Tenant

READING = [allowed(policy.READ)]
ADMINISTERING = [allowed(policy.ADMIN)]
DEFAULT_OVERLAP_SECONDS = 24 * 3600

strawberry.enum(
    DeliveryStatus,
    name="EventDeliveryStatus",
    description="PENDING: waiting for its next attempt; FAILED: every scheduled attempt failed "
    "(or the endpoint answered 410); CANCELLED: the endpoint was disabled or deleted first.",
)


def _tenant(info: Info) -> Tenant:
    tenant: Tenant = info.context.principal.tenant
    return tenant


@strawberry.type(description="One data field of an event type's payload.")
class EventField:
    name: str
    description: str


@strawberry.type(name="EventType", description="An event subscriber endpoints can receive.")
class EventTypeDoc:
    name: str = strawberry.field(description="As in the body's `type`, e.g. job.completed.")
    description: str
    fields: list[EventField] = strawberry.field(description="What the body's `data` holds.")


@strawberry.type(description="A change event, as delivered: webhook-id is its id.")
class Event:
    id: strawberry.ID
    type: str
    created_at: datetime
    body: JSONObject = strawberry.field(description="The JSON body every delivery sends.")

    @classmethod
    def from_row(cls, row: EventRow) -> "Event":
        return cls(
            id=strawberry.ID(row.id),
            type=row.type,
            created_at=row.created_at,
            body=JSONObject(orjson.loads(row.body)),
        )


@strawberry.type(description="A URL of the client's that receives signed change events.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why it is disabled: by the client, or because it answered 410 Gone."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then deliveries are signed with the previous secret too."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: WebhookEndpointRow) -> "WebhookEndpoint":
        return cls(
            id=strawberry.ID(row.id),
            url=row.url,
            description=row.description,
            event_types=list(row.event_types),
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="One attempt to deliver an event to an endpoint.")
class EventDeliveryAttempt:
    started_at: datetime
    duration_ms: int
    status_code: int | None = strawberry.field(description="Null when no answer came.")
    error: str | None
    response_excerpt: str | None = strawberry.field(description="The answer's first characters.")

    @classmethod
    def from_row(cls, row: EventDeliveryAttemptRow) -> "EventDeliveryAttempt":
        return cls(
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            status_code=row.status_code,
            error=row.error,
            response_excerpt=row.response_excerpt,
        )


@strawberry.type(description="One event on its way to one endpoint, with every attempt.")
class EventDelivery:
    id: strawberry.ID
    event_id: strawberry.ID
    event_type: str
    endpoint_id: strawberry.ID
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[EventDeliveryAttempt] = strawberry.field(description="Oldest first.")

    @classmethod
    def from_row(cls, row: EventDeliveryRow) -> "EventDelivery":
        return cls(
            id=strawberry.ID(row.id),
            event_id=strawberry.ID(row.event_id),
            event_type=row.event_type,
            endpoint_id=strawberry.ID(row.endpoint_id),
            status=DeliveryStatus(row.status),
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            attempts=[EventDeliveryAttempt.from_row(a) for a in row.attempt_log],
        )


@strawberry.type
class WebhookEndpointConnection:
    nodes: list[WebhookEndpoint]
    page_info: PageInfo


@strawberry.type
class EventConnection:
    nodes: list[Event]
    page_info: PageInfo


@strawberry.type
class EventDeliveryConnection:
    nodes: list[EventDelivery]
    page_info: PageInfo


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Live keys: https on a public address. Test keys: http or https, any host."
    )
    event_types: list[str] = strawberry.field(
        description="Event types to send, e.g. job.completed."
    )
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = strawberry.field(
        default=None, description="Disabling cancels its pending deliveries."
    )


@strawberry.input
class RotateWebhookEndpointSecretInput:
    id: strawberry.ID
    previous_secret_valid_for_seconds: int = strawberry.field(
        default=DEFAULT_OVERLAP_SECONDS,
        description="How long deliveries also carry a signature with the current secret (0 to "
        "7 days), so receivers can switch without a gap.",
    )


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.input(description="Either eventIds, or since (and optionally until).")
class ReplayEventsInput:
    event_ids: list[strawberry.ID] | None = None
    since: datetime | None = None
    until: datetime | None = strawberry.field(default=None, description="Default: now.")
    endpoint_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: every enabled endpoint subscribed to each event."
    )


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    errors: list[UserError]


@strawberry.type
class WebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="The whsec_… signing secret: shown here once, never again; store it now."
    )
    errors: list[UserError]


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class ReplayEventsPayload:
    events: int = strawberry.field(description="Events selected.")
    deliveries: int = strawberry.field(description="Deliveries scheduled (one per endpoint).")
    errors: list[UserError]


@strawberry.type
class EventsQuery:
    @strawberry.field(permission_classes=READING, description="Every event an endpoint can get.")
    def event_types(self) -> list[EventTypeDoc]:
        return [
            EventTypeDoc(
                name=spec.type.value,
                description=spec.description,
                fields=[EventField(name=n, description=d) for n, d in spec.fields.items()],
            )
            for spec in CATALOG.values()
        ]

    @strawberry.field(permission_classes=READING, description="The client's webhook endpoints.")
    async def webhook_endpoints(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> WebhookEndpointConnection:
        async with reading(info.context.services.sessions) as session:
            page = await events.list_endpoints(session, _tenant(info), first, after)
        return WebhookEndpointConnection(
            nodes=[WebhookEndpoint.from_row(row) for row in page.items],
            page_info=PageInfo.of(page),
        )

    @strawberry.field(permission_classes=READING, description="Recorded events, newest first.")
    async def events(
        self, info: Info, type: str | None = None, first: int = 50, after: str | None = None
    ) -> EventConnection:
        try:
            wanted = event_type(type) if type is not None else None
        except UnknownEventType:
            raise GatewayError("unknown_event_type", f"Unknown event type {type}.") from None
        async with reading(info.context.services.sessions) as session:
            page = await events.list_events(session, _tenant(info), first, after, wanted)
        return EventConnection(
            nodes=[Event.from_row(row) for row in page.items], page_info=PageInfo.of(page)
        )

    @strawberry.field(
        permission_classes=READING,
        description="Event deliveries with their attempts, newest first.",
    )
    async def event_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: DeliveryStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> EventDeliveryConnection:
        endpoint = str(endpoint_id) if endpoint_id is not None else None
        async with reading(info.context.services.sessions) as session:
            page = await events.list_deliveries(
                session, _tenant(info), first, after, endpoint, status
            )
        return EventDeliveryConnection(
            nodes=[EventDelivery.from_row(row) for row in page.items],
            page_info=PageInfo.of(page),
        )


@strawberry.type
class EventsMutation:
    @strawberry.mutation(
        permission_classes=ADMINISTERING,
        description="Register a URL to receive signed events; its signing secret is in this "
        "answer only.",
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointSecretPayload:
        services = info.context.services
        try:
            async with services.sessions() as session, session.begin():
                created = await events.create_endpoint(
                    session,
                    services.settings,
                    _tenant(info),
                    input.url,
                    input.event_types,
                    input.description,
                )
        except GatewayError as error:
            return WebhookEndpointSecretPayload(
                endpoint=None, secret=None, errors=UserError.all_from(error)
            )
        return WebhookEndpointSecretPayload(
            endpoint=WebhookEndpoint.from_row(created.endpoint), secret=created.secret, errors=[]
        )

    @strawberry.mutation(
        permission_classes=ADMINISTERING,
        description="Change an endpoint's URL, event types or description, or enable/disable it.",
    )
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        changes = events.EndpointChanges(
            url=input.url,
            event_types=input.event_types,
            description=input.description,
            enabled=input.enabled,
        )
        try:
            async with info.context.services.sessions() as session, session.begin():
                row = await events.update_endpoint(session, _tenant(info), str(input.id), changes)
        except GatewayError as error:
            return WebhookEndpointPayload(endpoint=None, errors=UserError.all_from(error))
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row), errors=[])

    @strawberry.mutation(
        permission_classes=ADMINISTERING,
        description="Issue a new signing secret (in this answer only); the current one keeps "
        "signing alongside it for the overlap.",
    )
    async def rotate_webhook_endpoint_secret(
        self, info: Info, input: RotateWebhookEndpointSecretInput
    ) -> WebhookEndpointSecretPayload:
        services = info.context.services
        overlap = timedelta(seconds=input.previous_secret_valid_for_seconds)
        try:
            async with services.sessions() as session, session.begin():
                rotated = await events.rotate_secret(
                    session, services.settings, _tenant(info), str(input.id), overlap
                )
        except GatewayError as error:
            return WebhookEndpointSecretPayload(
                endpoint=None, secret=None, errors=UserError.all_from(error)
            )
        return WebhookEndpointSecretPayload(
            endpoint=WebhookEndpoint.from_row(rotated.endpoint), secret=rotated.secret, errors=[]
        )

    @strawberry.mutation(
        permission_classes=ADMINISTERING,
        description="Remove an endpoint; its pending deliveries are cancelled.",
    )
    async def delete_webhook_endpoint(
        self, info: Info, input: DeleteWebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        try:
            async with info.context.services.sessions() as session, session.begin():
                await events.delete_endpoint(session, _tenant(info), str(input.id))
        except GatewayError as error:
            return DeleteWebhookEndpointPayload(deleted_id=None, errors=UserError.all_from(error))
        return DeleteWebhookEndpointPayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        permission_classes=ADMINISTERING,
        description="Send events again, by id or by when they were recorded, with the same "
        "webhook-id (receivers dedupe on it).",
    )
    async def replay_events(self, info: Info, input: ReplayEventsInput) -> ReplayEventsPayload:
        selection = events.ReplaySelection(
            event_ids=[str(i) for i in input.event_ids] if input.event_ids is not None else None,
            since=input.since,
            until=input.until,
            endpoint_id=str(input.endpoint_id) if input.endpoint_id is not None else None,
        )
        try:
            async with info.context.services.sessions() as session, session.begin():
                replayed = await events.replay(session, _tenant(info), selection)
        except GatewayError as error:
            return ReplayEventsPayload(events=0, deliveries=0, errors=UserError.all_from(error))
        return ReplayEventsPayload(
            events=replayed.events, deliveries=replayed.deliveries, errors=[]
        )
