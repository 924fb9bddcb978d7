"""AMS sync state: the due marker and lease per tenant and entity, what was written per record,
and the onboarding quarantine-check watermark

Revision ID: 0008_ams_sync
Revises: 0007_client_defaults
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_ams_sync"
down_revision: str | None = "0007_client_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ams_sync_state",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("due_seq", sa.Integer(), nullable=False),
        sa.Column("done_seq", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("platforms", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ams_sync_state_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "livemode", "entity", name=op.f("pk_ams_sync_state")),
    )
    op.create_table(
        "ams_sync_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("airtable_record_id", sa.String(length=17), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("map_version", sa.Integer(), nullable=False),
        sa.Column("field_hashes", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ams_sync_records_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ams_sync_records")),
        sa.UniqueConstraint(
            "client_id",
            "livemode",
            "entity",
            "source_platform",
            "external_id",
            name="uq_ams_sync_records_identity",
        ),
    )
    op.create_index(
        op.f("ix_ams_sync_records_client_id_livemode_status"),
        "ams_sync_records",
        ["client_id", "livemode", "status"],
    )
    with op.batch_alter_table("ams_provisioning") as batch_op:
        batch_op.add_column(
            sa.Column("onboarding_checked_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("ams_provisioning") as batch_op:
        batch_op.drop_column("onboarding_checked_at")
    op.drop_index(
        op.f("ix_ams_sync_records_client_id_livemode_status"), table_name="ams_sync_records"
    )
    op.drop_table("ams_sync_records")
    op.drop_table("ams_sync_state")
