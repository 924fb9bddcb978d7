"""A client's own rate limits, where the defaults in settings do not fit it."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class ClientRateLimit(Base):
    """Null columns keep the default for that bucket."""

    __tablename__ = "client_rate_limits"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    api_burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    api_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    webhook_burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    webhook_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
