"""reconciliation audit runs and mismatches; AMS circuit state

Revision ID: 0023_reconciliation
Revises: 0019_merge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_reconciliation"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The AMS circuit state lives in each process (app.integrations.circuit): no table.
COUNTS = [
    "population",
    "checked",
    "pending",
    "rows_read",
    "missing",
    "extra",
    "duplicate",
    "field",
    "requeued",
    "deleted",
    "airtable_requests",
]


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("repair", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.Column("requested_by", sa.String(length=40), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_reconciliation_runs_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        op.f("ix_reconciliation_runs_client_id_livemode_entity_id"),
        "reconciliation_runs",
        ["client_id", "livemode", "entity", "id"],
        unique=False,
    )
    op.create_table(
        "reconciliation_mismatches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("airtable_record_id", sa.String(length=17), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_reconciliation_mismatches_client_id_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_mismatches_run_id_reconciliation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_mismatches")),
    )
    op.create_index(
        op.f("ix_reconciliation_mismatches_run_id_id"),
        "reconciliation_mismatches",
        ["run_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_reconciliation_mismatches_run_id_id"), table_name="reconciliation_mismatches"
    )
    op.drop_table("reconciliation_mismatches")
    op.drop_index(
        op.f("ix_reconciliation_runs_client_id_livemode_entity_id"),
        table_name="reconciliation_runs",
    )
    op.drop_table("reconciliation_runs")
