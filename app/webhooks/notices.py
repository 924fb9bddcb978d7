"""Change notices: webhook events that did not become ingest jobs (id-only events, deletions,
records without mapping rules, topics the gateway does not act on), kept for the partner to pull
and acknowledge. Always read and written within one tenant."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.ams.archival import archive_source_deletion
from app.contracts.fields import SourcePlatform
from app.errors import FieldError, GatewayError
from app.ids import new_id
from app.pagination import Page, check_page_size, decode_cursor, encode_cursor
from app.tenancy.models import Tenant
from app.webhooks.events import Event, Notice
from app.webhooks.models import WebhookConnection, WebhookNotice

MAX_ACKNOWLEDGE = 500


def _clip(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


async def archive_deletions(
    session: AsyncSession, connection: WebhookConnection, events: Sequence[Event]
) -> None:
    """A platform's delete events archive the stored records they name (a record the gateway
    never stored is left to the notice alone)."""
    tenant = Tenant(connection.client_id, connection.livemode)
    for event in events:
        notice = event.action
        if isinstance(notice, Notice) and notice.deleted and notice.object_id:
            await archive_source_deletion(
                session, tenant, notice.deleted, connection.platform, notice.object_id
            )


async def record_notices(
    session: AsyncSession,
    connection: WebhookConnection,
    events: Sequence[Event],
    request_id: str | None,
) -> list[str]:
    """Insert one notice per event whose action is a Notice; returns their ids."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    # Sorted, so ids made in the same millisecond still page in the events' order.
    ids = sorted(new_id("wbn") for _ in events)
    for notice_id, event in zip(ids, events, strict=True):
        notice = event.action
        assert isinstance(notice, Notice)
        rows.append(
            {
                "id": notice_id,
                "client_id": connection.client_id,
                "livemode": connection.livemode,
                "connection_id": connection.id,
                "source": connection.platform,
                "topic": event.topic[:200],
                "event_id": event.delivery_id[:255],
                "reason": notice.reason.value,
                "message": notice.message,
                "object_type": _clip(notice.object_type, 64),
                "object_id": _clip(notice.object_id, 255),
                "occurred_at": notice.occurred_at,
                "payload": notice.payload,
                "request_id": request_id,
                "received_at": now,
                "acknowledged": False,
                "acknowledged_at": None,
            }
        )
    if rows:
        await session.execute(insert(WebhookNotice), rows)
    return [str(row["id"]) for row in rows]


async def list_notices(
    session: AsyncSession,
    tenant: Tenant,
    first: int,
    after: str | None,
    source: SourcePlatform | None = None,
    include_acknowledged: bool = False,
) -> Page[WebhookNotice]:
    """Oldest first, so a partner working through them meets events in arrival order."""
    check_page_size(first)
    query = select(WebhookNotice).where(
        WebhookNotice.client_id == tenant.client_id, WebhookNotice.livemode == tenant.livemode
    )
    if not include_acknowledged:
        query = query.where(WebhookNotice.acknowledged.is_(False))
    if source is not None:
        query = query.where(WebhookNotice.source == source.value)
    if after is not None:
        query = query.where(WebhookNotice.id > decode_cursor(after))
    found = list(await session.scalars(query.order_by(WebhookNotice.id).limit(first + 1)))
    page = found[:first]
    return Page(page, encode_cursor(page[-1].id) if page else None, len(found) > first)


async def acknowledge_notices(session: AsyncSession, tenant: Tenant, ids: Sequence[str]) -> int:
    """Mark the tenant's notices as handled; ids of other tenants or unknown ids change nothing.
    Returns how many notices were newly acknowledged."""
    if not 1 <= len(ids) <= MAX_ACKNOWLEDGE:
        message = f"ids must hold 1 to {MAX_ACKNOWLEDGE} notice ids."
        problem = FieldError("invalid_ids", message, ("ids",))
        raise GatewayError("invalid_ids", message, errors=[problem])
    result = await session.execute(
        update(WebhookNotice)
        .where(
            WebhookNotice.client_id == tenant.client_id,
            WebhookNotice.livemode == tenant.livemode,
            WebhookNotice.id.in_(list(ids)),
            WebhookNotice.acknowledged.is_(False),
        )
        .values(acknowledged=True, acknowledged_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
