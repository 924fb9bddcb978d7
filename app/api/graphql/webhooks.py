"""Webhook connections and change notices: set a platform's signing secret (rotation with an
overlap), see each connection's URL and rejection count, pull and acknowledge notices."""

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.api.graphql.permissions import allowed
from app.api.graphql.scalars import JSONObject
from app.api.graphql.types import PageInfo, UserError
from app.contracts.fields import SourcePlatform
from app.db.engine import reading
from app.errors import GatewayError
from app.privacy.masking import reveals_personal, shown_notice
from app.tenancy import policy
from app.tenancy.models import Principal
from app.webhooks import connections, notices
from app.webhooks.events import NoticeReason
from app.webhooks.models import WebhookConnection as ConnectionRow
from app.webhooks.models import WebhookNotice as NoticeRow

strawberry.enum(NoticeReason, description="Why a webhook event became a notice, not a job.")


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.principal
    return principal


@strawberry.type(description="Where one platform's webhooks for this client arrive.")
class WebhookConnection:
    id: strawberry.ID
    platform: SourcePlatform
    url: str = strawberry.field(description="Configure this URL on the platform.")
    previous_secret_valid_until: datetime | None = strawberry.field(
        description="Until then, deliveries signed with the replaced secret still verify."
    )
    rejected_deliveries: int = strawberry.field(
        description="Deliveries refused as unsigned, badly signed or too old."
    )
    last_rejected_at: datetime | None
    last_rejection_code: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: ConnectionRow, url: str) -> "WebhookConnection":
        return cls(
            id=strawberry.ID(row.id),
            platform=SourcePlatform(row.platform),
            url=url,
            previous_secret_valid_until=row.previous_valid_until,
            rejected_deliveries=row.rejected_deliveries,
            last_rejected_at=row.last_rejected_at,
            last_rejection_code=row.last_rejection_code,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A webhook event that did not become an ingest job, and why.")
class WebhookNotice:
    id: strawberry.ID
    source: SourcePlatform
    topic: str = strawberry.field(description="The platform's event name, e.g. products/delete.")
    event_id: str = strawberry.field(description="The platform's delivery or event id.")
    reason: NoticeReason
    message: str = strawberry.field(description="What happened and what to do about it.")
    object_type: str | None
    object_id: str | None = strawberry.field(description="The platform's id of the object.")
    occurred_at: datetime | None
    payload: JSONObject | None = strawberry.field(
        description="The event as sent, for id-only events (e.g. HubSpot's); without the pii:read "
        "scope every value but the event's own fields (eventId, subscriptionType, objectId, "
        "propertyName…) is masked (e.g. propertyValue)."
    )
    received_at: datetime
    acknowledged_at: datetime | None

    @classmethod
    def from_row(cls, row: NoticeRow, reveal_personal: bool) -> "WebhookNotice":
        return cls(
            id=strawberry.ID(row.id),
            source=SourcePlatform(row.source),
            topic=row.topic,
            event_id=row.event_id,
            reason=NoticeReason(row.reason),
            message=row.message,
            object_type=row.object_type,
            object_id=row.object_id,
            occurred_at=row.occurred_at,
            payload=JSONObject(shown_notice(row.payload, reveal_personal))
            if row.payload is not None
            else None,
            received_at=row.received_at,
            acknowledged_at=row.acknowledged_at,
        )


@strawberry.type
class WebhookNoticeConnection:
    nodes: list[WebhookNotice]
    page_info: PageInfo


@strawberry.input(description="A platform's webhook signing secret for the calling client.")
class SetWebhookSecretInput:
    platform: SourcePlatform = strawberry.field(
        description="salesforce and custom events are verified per Standard Webhooks: their "
        "secret is 'whsec_' + base64."
    )
    secret: str = strawberry.field(
        description="The secret the platform signs with (Shopify: the app's client secret; "
        "WooCommerce: the webhook's secret; HubSpot: the app's client secret). Never returned."
    )
    previous_secret_valid_until: datetime | None = strawberry.field(
        default=None,
        description="Rotation: the secret being replaced keeps verifying until then (at most "
        "30 days). Left out, it stops at once.",
    )


@strawberry.type
class SetWebhookSecretPayload:
    connection: WebhookConnection | None
    errors: list[UserError]


@strawberry.input
class AcknowledgeWebhookNoticesInput:
    ids: list[strawberry.ID] = strawberry.field(description="1 to 500 notice ids.")


@strawberry.type
class AcknowledgeWebhookNoticesPayload:
    acknowledged: int = strawberry.field(description="Notices newly marked as handled.")
    errors: list[UserError]


@strawberry.type
class WebhooksQuery:
    @strawberry.field(
        permission_classes=[allowed(policy.READ)],
        description="The calling client's webhook connections, one per platform.",
    )
    async def webhook_connections(self, info: Info) -> list[WebhookConnection]:
        services = info.context.services
        async with reading(services.sessions) as session:
            rows = await connections.list_connections(session, _principal(info).tenant)
        return [
            WebhookConnection.from_row(row, connections.webhook_url(services.settings, row))
            for row in rows
        ]

    @strawberry.field(
        permission_classes=[allowed(policy.READ)],
        description="Webhook events to act on (id-only events, deletions, events without a "
        "mapping), oldest first; acknowledged ones only with includeAcknowledged.",
    )
    async def webhook_notices(
        self,
        info: Info,
        first: int = 100,
        after: str | None = None,
        # Named `source` in the schema; the Python name must differ from strawberry's own.
        platform: Annotated[
            SourcePlatform | None,
            strawberry.argument(name="source", description="Only this platform's notices."),
        ] = None,
        include_acknowledged: bool = False,
    ) -> WebhookNoticeConnection:
        tenant, reveal = _principal(info).tenant, reveals_personal(_principal(info))
        async with reading(info.context.services.sessions) as session:
            page = await notices.list_notices(
                session, tenant, first, after, platform, include_acknowledged
            )
        return WebhookNoticeConnection(
            nodes=[WebhookNotice.from_row(row, reveal) for row in page.items],
            page_info=PageInfo.of(page),
        )


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        permission_classes=[allowed(policy.ADMIN)],
        description="Set (or rotate) the secret a platform signs this client's webhooks with. "
        "Returns the connection and the URL to configure on the platform.",
    )
    async def set_webhook_secret(
        self, info: Info, input: SetWebhookSecretInput
    ) -> SetWebhookSecretPayload:
        services = info.context.services
        change = connections.SecretChange(
            input.platform, input.secret, input.previous_secret_valid_until
        )
        try:
            async with services.sessions() as session, session.begin():
                row = await connections.set_secret(
                    session, services.settings, _principal(info).tenant, change
                )
        except GatewayError as error:
            return SetWebhookSecretPayload(connection=None, errors=UserError.all_from(error))
        url = connections.webhook_url(services.settings, row)
        return SetWebhookSecretPayload(connection=WebhookConnection.from_row(row, url), errors=[])

    @strawberry.mutation(
        permission_classes=[allowed(policy.INGEST)],
        description="Mark webhook notices as handled: they leave webhookNotices.",
    )
    async def acknowledge_webhook_notices(
        self, info: Info, input: AcknowledgeWebhookNoticesInput
    ) -> AcknowledgeWebhookNoticesPayload:
        services = info.context.services
        ids = [str(notice_id) for notice_id in input.ids]
        try:
            async with services.sessions() as session, session.begin():
                count = await notices.acknowledge_notices(session, _principal(info).tenant, ids)
        except GatewayError as error:
            return AcknowledgeWebhookNoticesPayload(
                acknowledged=0, errors=UserError.all_from(error)
            )
        return AcknowledgeWebhookNoticesPayload(acknowledged=count, errors=[])
