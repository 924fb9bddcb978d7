"""The sandbox's Airtable state, kept in the gateway's own database. Every row carries the
client_id of the test key that owns it; every query filters on it."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime

_JSON = JSON().with_variant(JSONB(), "postgresql")


class SandboxBase(Base):
    __tablename__ = "airtable_bases"
    __table_args__ = (Index(None, "client_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(17), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    workspace_id: Mapped[str] = mapped_column(String(17))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SandboxTable(Base):
    __tablename__ = "airtable_tables"
    __table_args__ = (Index(None, "client_id", "base_id", "position"),)

    id: Mapped[str] = mapped_column(String(17), primary_key=True)
    base_id: Mapped[str] = mapped_column(ForeignKey("airtable_bases.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any]] = mapped_column(
        _JSON, doc="Airtable's table model: description, primaryFieldId, fields, views"
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SandboxRecord(Base):
    __tablename__ = "airtable_records"
    __table_args__ = (Index(None, "client_id", "table_id", "position"),)

    id: Mapped[str] = mapped_column(String(17), primary_key=True)
    table_id: Mapped[str] = mapped_column(ForeignKey("airtable_tables.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(BigInteger, doc="Creation order within the table")
    fields: Mapped[dict[str, Any]] = mapped_column(_JSON, doc="Cell values keyed by field id")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
