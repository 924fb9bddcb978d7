"""AMS rows per linked identity: a sync record names the record holding its merged AMS row, and
each client's entities remember the conflict policy version their merged rows were placed with

Revision ID: 0030_ams_identity_rows
Revises: 0029_link_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_ams_identity_rows"
down_revision: str | None = "0029_link_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MERGED_INTO_INDEX = "ix_ams_sync_records_client_id_livemode_entity_merged_into"


def upgrade() -> None:
    with op.batch_alter_table("ams_sync_records") as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.String(length=40), nullable=True))
    op.create_index(
        op.f(MERGED_INTO_INDEX),
        "ams_sync_records",
        ["client_id", "livemode", "entity", "merged_into"],
    )
    op.create_table(
        "ams_identity_policies",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ams_identity_policies_client_id_clients")
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "livemode", "entity", name=op.f("pk_ams_identity_policies")
        ),
    )


def downgrade() -> None:
    op.drop_table("ams_identity_policies")
    op.drop_index(op.f(MERGED_INTO_INDEX), table_name="ams_sync_records")
    with op.batch_alter_table("ams_sync_records") as batch_op:
        batch_op.drop_column("merged_into")
