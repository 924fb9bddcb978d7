"""partner reports: sync runs and connection health

Revision ID: 0018_partner_reports
Revises: 0017_usage
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_partner_reports"
down_revision: str | None = "0017_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("platform", sa.String(length=24), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records_sent", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("reported_by", sa.String(length=40), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        op.f("ix_sync_runs_client_id_livemode_platform_id"),
        "sync_runs",
        ["client_id", "livemode", "platform", "id"],
        unique=False,
    )
    op.create_table(
        "connection_health",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("platform", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "livemode", "platform", name=op.f("pk_connection_health")
        ),
    )


def downgrade() -> None:
    op.drop_table("connection_health")
    op.drop_table("sync_runs")
