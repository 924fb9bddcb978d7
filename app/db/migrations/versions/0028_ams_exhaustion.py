"""Exhausted AMS retries per record and the sandbox emulator's merge-key lookup

Revision ID: 0028_ams_exhaustion
Revises: 0027_sync_watermark
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_ams_exhaustion"
down_revision: str | None = "0027_sync_watermark"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ams_record_retries",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ams_record_retries_client_id_clients")
        ),
        sa.PrimaryKeyConstraint(
            "client_id",
            "livemode",
            "entity",
            "source_platform",
            "external_id",
            name=op.f("pk_ams_record_retries"),
        ),
    )

    op.create_table(
        "airtable_merge_fields",
        sa.Column("table_id", sa.String(length=17), nullable=False),
        sa.Column("field_id", sa.String(length=17), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["airtable_tables.id"],
            name=op.f("fk_airtable_merge_fields_table_id_airtable_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("table_id", "field_id", name=op.f("pk_airtable_merge_fields")),
    )
    op.create_table(
        "airtable_merge_keys",
        sa.Column("table_id", sa.String(length=17), nullable=False),
        sa.Column("field_id", sa.String(length=17), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("record_id", sa.String(length=17), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["airtable_records.id"],
            name=op.f("fk_airtable_merge_keys_record_id_airtable_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "table_id", "field_id", "value", "record_id", name=op.f("pk_airtable_merge_keys")
        ),
    )
    op.create_index(op.f("ix_airtable_merge_keys_record_id"), "airtable_merge_keys", ["record_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_airtable_merge_keys_record_id"), table_name="airtable_merge_keys")
    op.drop_table("airtable_merge_keys")
    op.drop_table("airtable_merge_fields")
    op.drop_table("ams_record_retries")
