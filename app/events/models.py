"""Events (the outbox), subscriber endpoints, and one delivery per (event, endpoint) with its
attempts. Every row carries the tenant (client_id + livemode)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.models import Base, UtcDateTime


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or being sent now)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every scheduled attempt failed (or the endpoint answered 410)
    CANCELLED = "cancelled"  # the endpoint was disabled or deleted before it went out


class Event(Base):
    """An event, written in the transaction of the change it reports."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "client_id", "livemode", "created_at"),
        Index(None, "fanned_out_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, doc="Also the webhook-id")
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, doc="The exact JSON sent (and signed) every time")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fanned_out_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(), nullable=True, doc="When deliveries to subscribed endpoints were made"
    )


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index(None, "client_id", "livemode", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    event_types: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    secret: Mapped[str] = mapped_column(Text, doc="whsec_… signing secret, Fernet-encrypted")
    previous_secret: Mapped[str | None] = mapped_column(
        Text, nullable=True, doc="The secret before the last rotation, encrypted"
    )
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(), nullable=True, doc="Until then deliveries carry both signatures"
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class EventDelivery(Base):
    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "client_id", "livemode", "endpoint_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    client_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column(Boolean)
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, doc="Attempts made, replays included")
    retry_step: Mapped[int] = mapped_column(
        Integer, doc="Position in the retry schedule; a replay starts it again"
    )
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    attempt_log: Mapped[list["EventDeliveryAttempt"]] = relationship(
        order_by="EventDeliveryAttempt.id", lazy="raise"
    )


class EventDeliveryAttempt(Base):
    __tablename__ = "event_delivery_attempts"
    __table_args__ = (Index(None, "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[str] = mapped_column(ForeignKey("event_deliveries.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(Text, nullable=True)
