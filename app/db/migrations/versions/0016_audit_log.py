"""audit log: append-only record of mutations, auth failures, key changes and operator actions

Revision ID: 0016_audit_log
Revises: 0015_key_lifecycle
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_audit_log"
down_revision: str | None = "0015_key_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_key_id", sa.String(length=40), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=True),
        sa.Column("operation", sa.String(length=120), nullable=False),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=80), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        op.f("ix_audit_events_client_id_id"), "audit_events", ["client_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"], unique=False
    )
    op.create_index(
        op.f("ix_audit_events_actor_key_id"), "audit_events", ["actor_key_id"], unique=False
    )
    op.create_index(op.f("ix_audit_events_operation"), "audit_events", ["operation"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_events")
