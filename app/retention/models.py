"""A tenant's retention policy (null periods follow the settings' defaults) and the indexes the
purge needs on the tables it deletes from (declared here, so they live with the code using them)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.models import AuditEvent
from app.db.models import Base, IngestJob, UtcDateTime
from app.quarantine.models import QuarantinedRecord
from app.webhooks.models import WebhookNotice


class RetentionPolicy(Base):
    __tablename__ = "retention_policies"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    raw_payload_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quarantine_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    job_detail_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audit_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str | None] = mapped_column(
        String(40), nullable=True, doc="The API key that last set it"
    )


# What the purge looks up per tenant: finished jobs, quarantine entries, notices and audit rows
# older than a cutoff (without these it would scan each table).
Index(None, IngestJob.client_id, IngestJob.livemode, IngestJob.finished_at)
Index(None, QuarantinedRecord.client_id, QuarantinedRecord.livemode, QuarantinedRecord.updated_at)
Index(None, WebhookNotice.client_id, WebhookNotice.livemode, WebhookNotice.received_at)
Index(None, AuditEvent.client_id, AuditEvent.livemode, AuditEvent.occurred_at)
