"""Every table the migrations manage. Modules with models of their own are imported here, so
Alembic, the migration test and the test database reset all see them."""

from app.db.models import Base

__all__ = ["Base"]
