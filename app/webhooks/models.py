"""Webhook tables: a client's connection per platform (its secret, encrypted), the ledger of
deliveries already seen (dedupe without Redis) and the change notices partners pull."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class WebhookConnection(Base):
    """Where one client's deliveries from one platform arrive, and the secret that signs them."""

    __tablename__ = "webhook_connections"
    __table_args__ = (
        UniqueConstraint(
            "client_id", "livemode", "platform", name="uq_webhook_connections_platform"
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    platform: Mapped[str] = mapped_column(String(16))
    secret_encrypted: Mapped[str] = mapped_column(Text, doc="Fernet token (app.encryption)")
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    rejected_deliveries: Mapped[int] = mapped_column(Integer, default=0)
    last_rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_rejection_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookDelivery(Base):
    """A delivery/event id already acted on, kept for the dedupe window (when there is no Redis)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "expires_at"),)

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_connections.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_key: Mapped[str] = mapped_column(
        String(64), primary_key=True, doc="SHA-256 of the platform's delivery/event id"
    )
    client_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column(Boolean)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookNotice(Base):
    """An event that did not become an ingest job, and why: for the partner to pull and act on."""

    __tablename__ = "webhook_notices"
    __table_args__ = (Index(None, "client_id", "livemode", "acknowledged", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    connection_id: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=True
    )
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
