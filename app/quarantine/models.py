"""A quarantined record: one row per failed record, pointing at its raw input (the staged record
of the job that brought it), with the standard-shaped attempt and its current errors."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class QuarantineStage(StrEnum):
    """Where the record failed."""

    INGEST = "ingest"  # mapping or validation: the entry points at its staged raw input
    AMS = "ams"  # Airtable refused the canonical record: no staged input (position -1), the
    # attempt (`mapped`) is the canonical record; fixing or replaying it sends it to the AMS again


class QuarantineStatus(StrEnum):
    OPEN = "OPEN"  # waiting for a fix, a replay or a discard
    RESOLVED = "RESOLVED"  # passed on a fix or a replay and went to the canonical store
    DISCARDED = "DISCARDED"  # given up on by someone (kept, with who and when)
    EXHAUSTED = "EXHAUSTED"  # failed for a transient reason until the retries ran out


class QuarantinedRecord(Base):
    __tablename__ = "quarantined_records"
    __table_args__ = (
        Index(None, "client_id", "livemode", "status", "id"),
        # listing pages with no status filter, and one job's entries, in id order (no sort)
        Index(None, "client_id", "livemode", "id"),
        Index(None, "job_id", "id"),
        Index(None, "job_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("ingest_jobs.id", ondelete="CASCADE"), doc="The job that brought the record"
    )
    position: Mapped[int] = mapped_column(
        Integer, doc="Its staged record: the raw input (-1 for an AMS rejection: none)"
    )
    stage: Mapped[str] = mapped_column(
        String(8), default=QuarantineStage.INGEST.value, server_default=QuarantineStage.INGEST.value
    )
    entity: Mapped[str] = mapped_column(String(16))
    source_platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    raw_platform: Mapped[str | None] = mapped_column(
        String(16), nullable=True, doc="ingestRaw: the platform whose shape the raw input is in"
    )
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    mapped: Mapped[Any] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"),
        nullable=True,
        doc="The standard-shaped attempt (mapped from raw, or after the last fix)",
    )
    patches: Mapped[list[Any] | None] = mapped_column(
        JSON(none_as_null=True),
        nullable=True,
        doc="JSON merge patches applied by fixes, in order (kept on replay); null: never fixed",
    )
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, doc="Current errors")
    rule_ids: Mapped[str] = mapped_column(
        Text, default="", doc="Failed rule ids, space-delimited with edges: ' a b '"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=1, doc="Validations so far")
    replay_job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    discarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    discarded_by: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="The API key that discarded it"
    )
