"""Reconciliation runs (one per tenant, entity and audit) and what each found.

A mismatch names the record (external id, source, Airtable record id) and, for a field mismatch,
the columns that differ — never the values: they may be personal data, and the two sides are
there to read (records(), the base) while they still differ."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunTrigger(StrEnum):
    SCHEDULED = "scheduled"
    OPERATOR = "operator"


class MismatchKind(StrEnum):
    MISSING = "missing"  # a synced record has no row in the base
    EXTRA = "extra"  # a row the gateway does not know (full runs only)
    DUPLICATE = "duplicate"  # a second row with the same External ID + Source
    FIELD = "field"  # a row whose columns differ from the record's mapped values


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (Index(None, "client_id", "livemode", "entity", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    full: Mapped[bool] = mapped_column(Boolean, doc="Every record (else a sample)")
    repair: Mapped[bool] = mapped_column(Boolean)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    population: Mapped[int] = mapped_column(Integer, doc="Synced records that could be checked")
    checked: Mapped[int] = mapped_column(Integer, doc="Records compared (the sample, or all)")
    pending: Mapped[int] = mapped_column(Integer, doc="Records not judged: sync pending/rejected")
    rows_read: Mapped[int] = mapped_column(Integer, doc="Rows read from the base")
    missing: Mapped[int] = mapped_column(Integer)
    extra: Mapped[int] = mapped_column(Integer)
    duplicate: Mapped[int] = mapped_column(Integer)
    field: Mapped[int] = mapped_column(Integer, doc="Records with at least one differing column")
    requeued: Mapped[int] = mapped_column(Integer, doc="Repair: records the sync will rewrite")
    deleted: Mapped[int] = mapped_column(Integer, doc="Repair: duplicate rows deleted")
    airtable_requests: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReconciliationMismatch(Base):
    __tablename__ = "reconciliation_mismatches"
    __table_args__ = (Index(None, "run_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_runs.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    source_platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    airtable_record_id: Mapped[str | None] = mapped_column(String(17), nullable=True)
    columns: Mapped[list[str]] = mapped_column(JSON(), doc="Field mismatches: columns that differ")
