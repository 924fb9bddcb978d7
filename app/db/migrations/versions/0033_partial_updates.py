"""Partial updates: variant_updates holds a WooCommerce variation read on its own until its parent
product is stored, then remembers the time the parent's variant last took (app.records.variations).

Standalone variation products stored before this revision are left as they are (nothing is
deleted); new variations update their parent's variants.

Revision ID: 0033_partial_updates
Revises: 0032_ams_followups
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_partial_updates"
down_revision: str | None = "0032_ams_followups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "variant_updates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=False),
        sa.Column("parent_external_id", sa.String(length=255), nullable=False),
        sa.Column("variant_external_id", sa.String(length=255), nullable=False),
        sa.Column("variant", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_variant_updates_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variant_updates")),
        sa.UniqueConstraint(
            "client_id",
            "livemode",
            "source_platform",
            "parent_external_id",
            "variant_external_id",
            name="uq_variant_updates_variant",
        ),
    )
    op.create_index(
        "ix_variant_updates_pending",
        "variant_updates",
        ["client_id", "livemode", "applied_at", "updated_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_variant_updates_pending", "variant_updates")
    op.drop_table("variant_updates")
