"""Every table the migrations manage. Modules with models of their own are imported here, so
Alembic, the migration test and the test database reset all see them."""

import app.ams.identity_rows
import app.ams.models
import app.ams.retries
import app.ams_credentials.models
import app.audit.models
import app.events.models
import app.mappings_override.models
import app.partner_reports.models
import app.privacy.models
import app.provisioning.models
import app.quarantine.models
import app.ratelimit.models
import app.reconciliation.models
import app.records.identity
import app.records.policies
import app.records.resolutions
import app.retention.models
import app.rules.models
import app.sandbox.airtable.merge_index
import app.sandbox.airtable.models
import app.sandbox.drive.models
import app.usage.models
import app.webhooks.models  # noqa: F401
from app.db.models import Base

__all__ = ["Base"]
