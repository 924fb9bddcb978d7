"""The audit log: append-only rows of who did what, to which ids, from where, with what result."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "client_id", "id"),
        Index(None, "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    actor_role: Mapped[str] = mapped_column(String(16), doc="client, operator, cli or anonymous")
    client_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    livemode: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    operation: Mapped[str] = mapped_column(String(120), index=True)
    target_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[str] = mapped_column(String(80), doc="ok, or the error code")
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
