"""AMS archival, full resyncs, sync retry backoff, and AMS rejections held in quarantine

Revision ID: 0026_ams_archival
Revises: 0025_ams_credentials
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_ams_archival"
down_revision: str | None = "0025_ams_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quarantined_records") as batch_op:
        batch_op.add_column(
            sa.Column("stage", sa.String(length=8), server_default="ingest", nullable=False)
        )
    with op.batch_alter_table("ams_sync_records") as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("ams_sync_state") as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "archived_records",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("resync_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_archived_records_client_id_clients")
        ),
        sa.PrimaryKeyConstraint(
            "client_id",
            "livemode",
            "entity",
            "source_platform",
            "external_id",
            name=op.f("pk_archived_records"),
        ),
    )
    op.create_table(
        "ams_full_resyncs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ams_full_resyncs_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ams_full_resyncs")),
    )
    op.create_index(
        op.f("ix_ams_full_resyncs_client_id_livemode_entity_status"),
        "ams_full_resyncs",
        ["client_id", "livemode", "entity", "status"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_ams_full_resyncs_client_id_livemode_entity_status"), table_name="ams_full_resyncs"
    )
    op.drop_table("ams_full_resyncs")
    op.drop_table("archived_records")
    with op.batch_alter_table("ams_sync_state") as batch_op:
        batch_op.drop_column("retry_at")
        batch_op.drop_column("failures")
    with op.batch_alter_table("ams_sync_records") as batch_op:
        batch_op.drop_column("archived_at")
    with op.batch_alter_table("quarantined_records") as batch_op:
        batch_op.drop_column("stage")
