"""Alembic environment: always handed an open connection by app.db.migrate."""

from alembic import context

from app.db.metadata import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `gateway migrate` (app.db.migrate).")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
