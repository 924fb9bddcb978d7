"""sandbox Airtable: bases, tables (their schema as JSON), records

Revision ID: 0002_airtable_sandbox
Revises: 0001
Create Date: 2026-11-25 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_airtable_sandbox"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "airtable_bases",
        sa.Column("id", sa.String(length=17), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=17), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_airtable_bases_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airtable_bases")),
    )
    op.create_index(
        op.f("ix_airtable_bases_client_id_created_at"),
        "airtable_bases",
        ["client_id", "created_at"],
    )
    op.create_table(
        "airtable_tables",
        sa.Column("id", sa.String(length=17), nullable=False),
        sa.Column("base_id", sa.String(length=17), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_id"],
            ["airtable_bases.id"],
            name=op.f("fk_airtable_tables_base_id_airtable_bases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airtable_tables")),
    )
    op.create_index(
        op.f("ix_airtable_tables_client_id_base_id_position"),
        "airtable_tables",
        ["client_id", "base_id", "position"],
    )
    op.create_table(
        "airtable_records",
        sa.Column("id", sa.String(length=17), nullable=False),
        sa.Column("table_id", sa.String(length=17), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["airtable_tables.id"],
            name=op.f("fk_airtable_records_table_id_airtable_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airtable_records")),
    )
    op.create_index(
        op.f("ix_airtable_records_client_id_table_id_position"),
        "airtable_records",
        ["client_id", "table_id", "position"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_airtable_records_client_id_table_id_position"), "airtable_records")
    op.drop_table("airtable_records")
    op.drop_index(op.f("ix_airtable_tables_client_id_base_id_position"), "airtable_tables")
    op.drop_table("airtable_tables")
    op.drop_index(op.f("ix_airtable_bases_client_id_created_at"), "airtable_bases")
    op.drop_table("airtable_bases")
