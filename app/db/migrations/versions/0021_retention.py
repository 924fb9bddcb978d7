"""per-client retention settings and purge bookkeeping

Revision ID: 0021_retention
Revises: 0019_merge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_retention"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The purge's lookups: (table, columns) of each index it needs.
PURGE_INDEXES = [
    ("ingest_jobs", ["client_id", "livemode", "finished_at"]),
    ("quarantined_records", ["client_id", "livemode", "updated_at"]),
    ("webhook_notices", ["client_id", "livemode", "received_at"]),
    ("audit_events", ["client_id", "livemode", "occurred_at"]),
]


def _index_name(table: str, columns: list[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("raw_payload_days", sa.Integer(), nullable=True),
        sa.Column("quarantine_days", sa.Integer(), nullable=True),
        sa.Column("job_detail_days", sa.Integer(), nullable=True),
        sa.Column("audit_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_retention_policies_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "livemode", name=op.f("pk_retention_policies")),
    )
    for table, columns in PURGE_INDEXES:
        op.create_index(op.f(_index_name(table, columns)), table, columns, unique=False)


def downgrade() -> None:
    for table, columns in PURGE_INDEXES:
        op.drop_index(op.f(_index_name(table, columns)), table_name=table)
    op.drop_table("retention_policies")
