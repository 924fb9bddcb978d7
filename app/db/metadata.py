"""Every table the migrations manage. Modules with models of their own are imported here, so
Alembic, the migration test and the test database reset all see them."""

import app.provisioning.models
import app.sandbox.airtable.models
import app.sandbox.drive.models  # noqa: F401
from app.db.models import Base

__all__ = ["Base"]
