"""Erasure runs (each with the step it is at, so a run cut short resumes), the per-client privacy
settings, and the suppression list (salted hashes only)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, CanonicalRecord, UtcDateTime
from app.privacy.lookup_sql import EXPRESSION_INDEXES
from app.quarantine.models import QuarantinedRecord
from app.webhooks.models import WebhookNotice

_JSON = JSON().with_variant(JSONB(), "postgresql")


class ErasureStatus(StrEnum):
    RUNNING = "running"  # started, or stopped half-way (the next call or the resumer goes on)
    COMPLETED = "completed"


class ErasureRun(Base):
    __tablename__ = "privacy_erasure_runs"
    __table_args__ = (
        Index(None, "client_id", "livemode", "subject_hash", "status"),
        Index(None, "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    subject_hash: Mapped[str] = mapped_column(
        String(64), doc="Salted hash of the identifier kind, platform and normalised value"
    )
    identifier_kind: Mapped[str] = mapped_column(String(16), doc="email, phone or external_id")
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(32), doc="The next step to run")
    footprint: Mapped[dict[str, Any] | None] = mapped_column(
        _JSON,
        nullable=True,
        doc="Row ids found when the run started, and the salted hashes to suppress (never "
        "personal values); cleared when done",
    )
    removed: Mapped[dict[str, int]] = mapped_column(_JSON, doc="Place → rows removed")
    error: Mapped[str | None] = mapped_column(Text, nullable=True, doc="Why the last try stopped")
    requested_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PrivacySettings(Base):
    """Per tenant: whether an erased person's later pushes are held back (suppression)."""

    __tablename__ = "privacy_settings"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    suppress_erased: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SuppressedSubject(Base):
    __tablename__ = "privacy_suppressed_subjects"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), doc="The erasure that added it")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


# Finding a person by external id without knowing the platform (the identity constraint leads
# with source_platform). Declared here, on the canonical table, so it lives with its reason.
SUBJECT_EXTERNAL_ID_INDEX = Index(
    "ix_canonical_records_subject_external_id",
    CanonicalRecord.client_id,
    CanonicalRecord.livemode,
    CanonicalRecord.entity,
    CanonicalRecord.external_id,
)
QUARANTINE_EXTERNAL_ID_INDEX = Index(
    "ix_quarantined_records_subject_external_id",
    QuarantinedRecord.client_id,
    QuarantinedRecord.livemode,
    QuarantinedRecord.external_id,
)


# A person's webhook notices by the platform's id of the object (id-only events carry no email).
NOTICE_OBJECT_ID_INDEX = Index(
    "ix_webhook_notices_subject_object_id",
    WebhookNotice.client_id,
    WebhookNotice.livemode,
    WebhookNotice.source,
    WebhookNotice.object_id,
)


def _expression_indexes() -> list[Index]:
    """The identifier expression indexes (app.privacy.lookup_sql), for PostgreSQL's reflection
    (SQLite's leaves expression indexes out, so the migration alone makes them there)."""
    from sqlalchemy import text

    tables = {"canonical_records": CanonicalRecord, "webhook_notices": WebhookNotice}
    made = []
    for name, (table, columns, expression) in EXPRESSION_INDEXES.items():
        model = tables[table]
        leading = [getattr(model, column.strip()) for column in columns.split(",")]
        index = Index(name, *leading, text(expression["postgresql"]))
        made.append(index.ddl_if(dialect="postgresql"))
    return made


EXPRESSION_INDEX_OBJECTS = _expression_indexes()
