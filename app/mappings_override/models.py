"""Each client's own mapping rules per platform and entity, one row per version (newest applies)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class FieldMappingSet(Base):
    __tablename__ = "field_mapping_sets"
    __table_args__ = (
        UniqueConstraint(
            "client_id",
            "livemode",
            "platform",
            "entity",
            "version",
            name="uq_field_mapping_sets_version",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    platform: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, doc="The override rules as set")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="The API key that set this version"
    )
