"""inbound webhooks: connections (encrypted secrets), the dedupe ledger and change notices

Revision ID: 0010_webhooks_in
Revises: 0007_client_defaults
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_webhooks_in"
down_revision: str | None = "0007_client_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_connections",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_deliveries", sa.Integer(), nullable=False),
        sa.Column("last_rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_rejection_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_webhook_connections_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_connections")),
        sa.UniqueConstraint(
            "client_id", "livemode", "platform", name="uq_webhook_connections_platform"
        ),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("delivery_key", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["webhook_connections.id"],
            name=op.f("fk_webhook_deliveries_connection_id_webhook_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "connection_id", "delivery_key", name=op.f("pk_webhook_deliveries")
        ),
    )
    op.create_index(op.f("ix_webhook_deliveries_expires_at"), "webhook_deliveries", ["expires_at"])
    op.create_table(
        "webhook_notices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_webhook_notices_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_notices")),
    )
    op.create_index(
        op.f("ix_webhook_notices_client_id_livemode_acknowledged_id"),
        "webhook_notices",
        ["client_id", "livemode", "acknowledged", "id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_webhook_notices_client_id_livemode_acknowledged_id"), table_name="webhook_notices"
    )
    op.drop_table("webhook_notices")
    op.drop_index(op.f("ix_webhook_deliveries_expires_at"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_connections")
