"""What partners report about their side: sync runs they made and the health of each platform
connection (their OAuth token to Shopify, HubSpot, …)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class ConnectionStatus(StrEnum):
    HEALTHY = "HEALTHY"
    STALE = "STALE"  # no fresh data for longer than expected
    REVOKED = "REVOKED"  # the platform no longer grants access
    ERROR = "ERROR"


UNHEALTHY = frozenset({ConnectionStatus.STALE, ConnectionStatus.REVOKED, ConnectionStatus.ERROR})


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (Index(None, "client_id", "livemode", "platform", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column(Boolean)
    platform: Mapped[str] = mapped_column(String(24))
    entity: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
    records_sent: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, doc="The first reported errors")
    reported_by: Mapped[str] = mapped_column(String(40), doc="API key id")
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConnectionHealth(Base):
    """The latest report per tenant and platform (history is in the audit log)."""

    __tablename__ = "connection_health"

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    platform: Mapped[str] = mapped_column(String(24), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    since: Mapped[datetime] = mapped_column(UtcDateTime(), doc="When this status began")
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
