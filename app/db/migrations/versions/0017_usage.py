"""usage metering: daily counters per client, mode and metric

Revision ID: 0017_usage
Revises: 0016_audit_log
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_usage"
down_revision: str | None = "0016_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "livemode", "day", "metric", name=op.f("pk_usage_daily")
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_daily")
