"""One row per client holding the credentials its live AMS writes use (test keys always write to
the sandbox). Secrets are app.encryption tokens; the other columns are what operators may see."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, UtcDateTime


class AmsCredentials(Base):
    """Null secret columns: that service falls back to the gateway-wide settings."""

    __tablename__ = "ams_credentials"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    airtable_token_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    airtable_token_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)
    airtable_workspace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    google_service_account_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    google_service_account_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    google_root_folder_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
