"""AMS sync state: one row per tenant and entity (the durable "sync due" marker and the lease),
and one row per canonical record (its Airtable record id and what was last written to it)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime

_JSON = JSON().with_variant(JSONB(), "postgresql")


class RecordSyncStatus(StrEnum):
    SYNCED = "synced"
    REJECTED = "rejected"
    EXHAUSTED = "exhausted"  # transient failures until its retries ran out (app.ams.retries)


class AmsSyncState(Base):
    """A sync is due while `due_seq > done_seq`: every finished ingest job bumps `due_seq` in its
    own transaction, a sync that ends well sets `done_seq` to the `due_seq` it started from, so a
    job finishing during a sync is never lost."""

    __tablename__ = "ams_sync_state"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    due_seq: Mapped[int] = mapped_column(Integer)
    done_seq: Mapped[int] = mapped_column(Integer)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(), nullable=True, doc="When the last successful sync finished."
    )
    written: Mapped[int] = mapped_column(Integer, doc="Counts of the last successful sync")
    rejected: Mapped[int] = mapped_column(Integer)
    requests: Mapped[int] = mapped_column(Integer, doc="Airtable requests the last sync made")
    platforms: Mapped[dict[str, Any]] = mapped_column(
        _JSON, doc="Source platform → when its records were last synced (ISO 8601)"
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True, doc="Why the last try failed")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failures: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", doc="Failed tries in a row (0 after a success)"
    )
    retry_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(), nullable=True, doc="After failures: not retried before this (backoff)"
    )


class AmsSyncRecord(Base):
    __tablename__ = "ams_sync_records"
    __table_args__ = (
        UniqueConstraint(
            "client_id",
            "livemode",
            "entity",
            "source_platform",
            "external_id",
            name="uq_ams_sync_records_identity",
        ),
        Index(None, "client_id", "livemode", "status"),
        # The sync's look-ups: records handled with another field map, rows showing an archival.
        Index(None, "client_id", "livemode", "entity", "map_version"),
        Index(
            "ix_ams_sync_records_archived",
            "client_id",
            "livemode",
            "entity",
            "archived_at",
            sqlite_where=text("archived_at IS NOT NULL"),
            postgresql_where=text("archived_at IS NOT NULL"),
        ),
        Index(None, "client_id", "livemode", "entity", "merged_into"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    source_platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    airtable_record_id: Mapped[str | None] = mapped_column(String(17), nullable=True)
    content_hash: Mapped[str] = mapped_column(
        String(64), doc="The canonical content last handled (written or rejected)"
    )
    map_version: Mapped[int] = mapped_column(Integer, doc="Field map version it was handled with")
    field_hashes: Mapped[dict[str, str]] = mapped_column(
        _JSON, doc="Airtable column → hash of the value last written there"
    )
    status: Mapped[str] = mapped_column(String(16))
    error_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(), nullable=True, doc="The archival the AMS row shows (null: not archived)"
    )
    merged_into: Mapped[str | None] = mapped_column(
        String(40),
        nullable=True,
        doc="Linked records' merged AMS row: the id of the sync record holding it (its own id "
        "for the holder); null: the record has its own row (app.ams.identity_rows)",
    )


class ArchiveReason(StrEnum):
    SOURCE_DELETED = "source_deleted"  # the partner said so (archiveRecords, a delete webhook)
    NOT_SEEN = "not_seen"  # a full resync pass completed without it


class ArchivedRecord(Base):
    """A canonical record archived (deleted at its source). A canonical state kept beside the
    record, not a deletion: the record stays readable, the AMS row is marked Archived. It is
    alive again when pushed with a source_updated_at after `archived_at`, or seen by a later
    full resync pass."""

    __tablename__ = "archived_records"
    __table_args__ = (
        PrimaryKeyConstraint("client_id", "livemode", "entity", "source_platform", "external_id"),
    )

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    source_platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    archived_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(16))
    resync_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="The full resync pass that did not see it"
    )


class ResyncStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"


class FullResync(Base):
    """A full pass over one entity: every record the source still has is pushed while it is
    open; completing it archives the canonical records no job of the pass brought."""

    __tablename__ = "ams_full_resyncs"
    __table_args__ = (Index(None, "client_id", "livemode", "entity", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    seen: Mapped[int] = mapped_column(Integer, default=0, doc="Records its jobs brought")
    archived: Mapped[int] = mapped_column(Integer, default=0, doc="Records it archived")
