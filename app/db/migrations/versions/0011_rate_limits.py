"""rate limits: per-client overrides of the default token buckets

Revision ID: 0011_rate_limits
Revises: 0007_client_defaults
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_rate_limits"
down_revision: str | None = "0007_client_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_rate_limits",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("api_burst", sa.Integer(), nullable=True),
        sa.Column("api_per_second", sa.Float(), nullable=True),
        sa.Column("webhook_burst", sa.Integer(), nullable=True),
        sa.Column("webhook_per_second", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_rate_limits_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("client_rate_limits")
