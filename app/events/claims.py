"""Claiming work: new events are fanned out to the endpoints subscribed to them, due deliveries
are taken under a lease. Both use a conditional update after `FOR UPDATE SKIP LOCKED` (PostgreSQL;
SQLite serialises writers), so two workers never take the same event or delivery at once. An idle
look is read-only, so it never takes SQLite's write lock.
"""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import reading
from app.encryption import decrypt
from app.events.models import DeliveryStatus, Event, EventDelivery, WebhookEndpoint
from app.events.store import insert_deliveries, new_delivery
from app.settings import Settings

FAN_OUT_BATCH = 500
LEASE_MARGIN = timedelta(seconds=30)


def _now() -> datetime:
    return datetime.now(UTC)


async def active_endpoints(session: AsyncSession, client_ids: set[str]) -> list[WebhookEndpoint]:
    found = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.client_id.in_(client_ids),
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.deleted_at.is_(None),
        )
    )
    return list(found)


def subscribed(endpoint: WebhookEndpoint, livemode: bool, event_type: str) -> bool:
    return endpoint.livemode == livemode and event_type in endpoint.event_types


async def fan_out(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Make a delivery for each new event and each endpoint subscribed to it then."""
    unclaimed = Event.fanned_out_at.is_(None)
    async with reading(sessions) as session:
        if not await session.scalar(select(exists().where(unclaimed))):
            return 0
    async with sessions() as session, session.begin():
        # Select, then update: PostgreSQL may evaluate a LIMIT subquery inside an UPDATE more
        # than once, and so claim more rows than asked for.
        batch = await session.scalars(
            select(Event.id)
            .where(unclaimed)
            .order_by(Event.id)
            .limit(FAN_OUT_BATCH)
            .with_for_update(skip_locked=True)
        )
        claimed = (
            await session.execute(
                update(Event)
                .where(Event.id.in_(list(batch)), unclaimed)
                .values(fanned_out_at=_now())
                .returning(Event.id, Event.client_id, Event.livemode, Event.type)
            )
        ).all()
        if not claimed:
            return 0
        endpoints = await active_endpoints(session, {row.client_id for row in claimed})
        rows = [
            new_delivery(event.id, event.type, endpoint)
            for event in claimed
            for endpoint in endpoints
            if endpoint.client_id == event.client_id
            and subscribed(endpoint, event.livemode, event.type)
        ]
        await insert_deliveries(session, rows)
    return len(claimed)


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    lease_token: str
    client_id: str
    event_id: str
    body: str
    retry_step: int
    endpoint_id: str
    url: str
    livemode: bool
    endpoint_active: bool
    signing_secrets: list[str] = field(repr=False)  # decrypted: never in a log line


def _due(now: datetime) -> Any:
    return and_(
        EventDelivery.status == DeliveryStatus.PENDING.value,
        EventDelivery.next_attempt_at <= now,
        or_(EventDelivery.lease_expires_at.is_(None), EventDelivery.lease_expires_at < now),
    )


def _secrets_of(settings: Settings, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    keys = [decrypt(settings, endpoint.secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        keys.append(decrypt(settings, endpoint.previous_secret))
    return keys


async def claim_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, limit: int
) -> list[Claim]:
    now = _now()
    async with reading(sessions) as session:
        if not await session.scalar(select(exists().where(_due(now)))):
            return []
    token = secrets.token_hex(16)
    lease = timedelta(seconds=settings.event_delivery_timeout_seconds) + LEASE_MARGIN
    async with sessions() as session, session.begin():
        batch = await session.scalars(
            select(EventDelivery.id)
            .where(_due(now))
            .order_by(EventDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(
            await session.scalars(
                update(EventDelivery)
                .where(EventDelivery.id.in_(list(batch)), _due(now))
                .values(lease_token=token, lease_expires_at=now + lease)
                .returning(EventDelivery.id)
            )
        )
        if not claimed:
            return []
        rows = await session.execute(
            select(EventDelivery, Event, WebhookEndpoint)
            .join(Event, Event.id == EventDelivery.event_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == EventDelivery.endpoint_id)
            .where(EventDelivery.id.in_(claimed))
        )
        return [
            Claim(
                delivery_id=delivery.id,
                lease_token=token,
                client_id=delivery.client_id,
                event_id=event.id,
                body=event.body,
                retry_step=delivery.retry_step,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                livemode=endpoint.livemode,
                endpoint_active=endpoint.enabled and endpoint.deleted_at is None,
                signing_secrets=_secrets_of(settings, endpoint, now),
            )
            for delivery, event, endpoint in rows
        ]
