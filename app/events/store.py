"""Delivery rows as several verbs write them: made for an (event, endpoint) pair, cancelled."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import DeliveryStatus, EventDelivery, WebhookEndpoint
from app.ids import new_id


def _now() -> datetime:
    return datetime.now(UTC)


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert, skipping (event, endpoint) pairs that already have a delivery."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(EventDelivery).on_conflict_do_nothing(
        index_elements=["event_id", "endpoint_id"]
    )
    await session.execute(statement, rows)


def new_delivery(event_id: str, event_type: str, endpoint: WebhookEndpoint) -> dict[str, Any]:
    now = _now()
    return {
        "id": new_id("whd"),
        "event_id": event_id,
        "endpoint_id": endpoint.id,
        "client_id": endpoint.client_id,
        "livemode": endpoint.livemode,
        "event_type": event_type,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "retry_step": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def cancel_pending(session: AsyncSession, endpoint_id: str, reason: str) -> None:
    await session.execute(
        update(EventDelivery)
        .where(
            EventDelivery.endpoint_id == endpoint_id,
            EventDelivery.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.CANCELLED.value,
            next_attempt_at=None,
            last_error=reason,
            updated_at=_now(),
        )
    )
