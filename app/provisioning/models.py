"""One row per tenant: what has been provisioned in its AMS (ids recorded step by step, so a rerun
resumes where a crash stopped) and where the client is in onboarding."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime

_JSON = JSON().with_variant(JSONB(), "postgresql")


class ProvisioningStatus(StrEnum):
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    FAILED = "failed"


class OnboardingStatus(StrEnum):
    """Advances one way: CONNECTED → FIRST_SYNC → VALIDATED → PRODUCTION_READY."""

    CONNECTED = "connected"
    FIRST_SYNC = "first_sync"
    VALIDATED = "validated"
    PRODUCTION_READY = "production_ready"


class AmsProvisioning(Base):
    __tablename__ = "ams_provisioning"
    __table_args__ = (UniqueConstraint("client_id", "livemode"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    base_id: Mapped[str | None] = mapped_column(String(17), nullable=True)
    root_folder_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    folder_ids: Mapped[dict[str, str]] = mapped_column(
        _JSON, doc="Drive folder id per role, e.g. {'Assets/Images': '…'}"
    )
    permission_ids: Mapped[dict[str, str]] = mapped_column(
        _JSON, doc="Drive permission id per grant on the root, e.g. {'group:x@y:writer': '…'}"
    )
    config: Mapped[dict[str, Any] | None] = mapped_column(_JSON, nullable=True)
    config_version: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    provisioned_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    onboarding_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    onboarding_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    first_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    validated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    production_ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    onboarding_checked_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime(),
        nullable=True,
        doc="Jobs finished up to here have been counted in the onboarding quarantine check.",
    )
    lease_owner: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="The provision call running now, so two never overlap."
    )
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
