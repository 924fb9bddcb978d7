"""Tables. Every tenant-owned row carries client_id and livemode: a tenant is (client, mode)."""

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset, so it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # What fills the gaps platforms leave in raw records (see app.transform.context).
    default_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    default_region: Mapped[str | None] = mapped_column(String(2), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # None for operator keys, which act on the client each request names.
    client_id: Mapped[str | None] = mapped_column(
        ForeignKey("clients.id"), index=True, nullable=True
    )
    mode: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default="client", server_default="client")
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lookup_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(40), doc="Shown in listings, e.g. gw_test_3f9a…")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # A future time is a rotation overlap: the key keeps working until then.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class IngestJob(Base):
    __tablename__ = "ingest_jobs"
    __table_args__ = (
        UniqueConstraint(
            "client_id", "livemode", "idempotency_key", name="uq_ingest_jobs_idempotency"
        ),
        Index(None, "client_id", "livemode", "id"),
        Index(None, "status", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    api_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    entity: Mapped[str] = mapped_column(String(16))
    door: Mapped[str] = mapped_column(String(16), doc="graphql, rest, webhook")
    source_platform: Mapped[str | None] = mapped_column(
        String(16), nullable=True, doc="Raw ingests: the platform whose shape the records are in"
    )
    mapping_version: Mapped[int | None] = mapped_column(
        Integer, nullable=True, doc="Raw ingests: the client's field-mapping version used (0: none)"
    )
    status: Mapped[str] = mapped_column(String(24))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    received: Mapped[int] = mapped_column(Integer, default=0)
    valid: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    stale: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", doc="WooCommerce variations waiting for a parent"
    )
    processed: Mapped[int] = mapped_column(Integer, default=0, doc="Resume cursor: positions done")

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class StagedRecord(Base):
    """A record exactly as received, kept until processed (and for replay and audit)."""

    __tablename__ = "staged_records"
    __table_args__ = (  # erasure's lookups (app.privacy.staged_subjects); audience rows only
        Index(
            "ix_staged_records_subject_email",
            "client_id",
            "subject_email",
            sqlite_where=text("subject_email IS NOT NULL"),
            postgresql_where=text("subject_email IS NOT NULL"),
        ),
        Index(
            "ix_staged_records_subject_external_id",
            "client_id",
            "subject_external_id",
            sqlite_where=text("subject_external_id IS NOT NULL"),
            postgresql_where=text("subject_external_id IS NOT NULL"),
        ),
    )

    job_id: Mapped[str] = mapped_column(
        ForeignKey("ingest_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text, doc="The record's JSON text")
    quarantine_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="Replays: the quarantined record this one re-runs"
    )
    subject_email: Mapped[str | None] = mapped_column(
        Text, nullable=True, doc="Audience payloads: the email they name, lower-cased"
    )
    subject_external_id: Mapped[str | None] = mapped_column(
        Text, nullable=True, doc="Audience payloads: the id they carry"
    )


class CanonicalRecord(Base):
    __tablename__ = "canonical_records"
    __table_args__ = (
        UniqueConstraint(
            "client_id",
            "livemode",
            "entity",
            "source_platform",
            "external_id",
            name="uq_canonical_records_identity",
        ),
        Index(None, "client_id", "livemode", "entity", "id"),
        Index(
            "ix_canonical_records_sync_pending",
            "client_id",
            "livemode",
            "entity",
            "id",
            sqlite_where=text("sync_pending = 1"),
            postgresql_where=text("sync_pending"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    entity: Mapped[str] = mapped_column(String(16))
    source_platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, object]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(BigInteger)
    last_job_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sync_pending: Mapped[bool] = mapped_column(
        Boolean,
        default=True,
        server_default=true(),
        doc="Its content is not handled by the AMS sync yet: set by every content write, cleared "
        "by the sync (app.ams.service), so a sync pass reads the changed records only",
    )


class RecordError(Base):
    __tablename__ = "record_errors"
    __table_args__ = (Index(None, "job_id", "position"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("ingest_jobs.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[str | None] = mapped_column(
        String(64), nullable=True, doc="The validation rule that failed, if one did"
    )


class VariantUpdate(Base):
    """The newest variation read on its own for one variant of a parent product
    (app.records.variations): pending while its parent is not stored (applied_at null), then the
    time the parent's variant last took, so an older variation never wins."""

    __tablename__ = "variant_updates"
    __table_args__ = (
        UniqueConstraint(
            "client_id",
            "livemode",
            "source_platform",
            "parent_external_id",
            "variant_external_id",
            name="uq_variant_updates_variant",
        ),
        Index("ix_variant_updates_pending", "client_id", "livemode", "applied_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    source_platform: Mapped[str] = mapped_column(String(16))
    parent_external_id: Mapped[str] = mapped_column(String(255))
    variant_external_id: Mapped[str] = mapped_column(String(255))
    variant: Mapped[dict[str, object]] = mapped_column(JSON, doc="The standard variant")
    source_updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
