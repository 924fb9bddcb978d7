"""key lifecycle: operator keys (no client), scopes, expiry, rotation overlap, descriptions

Revision ID: 0015_key_lifecycle
Revises: 0007_client_defaults
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_key_lifecycle"
down_revision: str | None = "0007_client_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLIENT_SCOPES = '["admin", "ingest", "quarantine:write", "read"]'


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.alter_column("client_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="client")
        )
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("description", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=40), nullable=True))
    op.execute(f"UPDATE api_keys SET scopes = '{CLIENT_SCOPES}'")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.alter_column("scopes", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM api_keys WHERE client_id IS NULL")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("description")
        batch_op.drop_column("scopes")
        batch_op.drop_column("role")
        batch_op.alter_column("client_id", existing_type=sa.String(length=40), nullable=False)
