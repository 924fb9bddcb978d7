"""The sandbox Drive's state: files (bytes on disk, named by blob_name), permissions and
resumable upload sessions. Every row carries the client it belongs to; every query filters on it."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime

JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")


class DriveFile(Base):
    __tablename__ = "sandbox_drive_files"
    __table_args__ = (
        Index(None, "client_id", "id"),
        Index(None, "client_id", "parent_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    name: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    app_properties: Mapped[dict[str, str]] = mapped_column(JSON_TYPE)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    blob_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trashed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DrivePermission(Base):
    __tablename__ = "sandbox_drive_permissions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    file_id: Mapped[str] = mapped_column(
        ForeignKey("sandbox_drive_files.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(8))
    email_address: Mapped[str | None] = mapped_column(String(320), nullable=True)
    domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DriveUpload(Base):
    """A resumable upload: the file's metadata until the last byte arrives, then its file id
    (a new file, or the one named by `replaces_file_id`)."""

    __tablename__ = "sandbox_drive_uploads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    metadata_json: Mapped[dict[str, object]] = mapped_column(JSON_TYPE)
    content_type: Mapped[str] = mapped_column(String(255))
    total_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received: Mapped[int] = mapped_column(BigInteger)
    blob_name: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    replaces_file_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="The existing file whose content this upload replaces."
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
