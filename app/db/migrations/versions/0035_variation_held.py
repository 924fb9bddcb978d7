"""Ingest jobs count the variations they hold for a parent not stored yet (app.records.variations)

Revision ID: 0035_variation_held
Revises: 0034_staged_subjects
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_variation_held"
down_revision: str | None = "0034_staged_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_jobs") as batch:
        batch.add_column(sa.Column("held", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("ingest_jobs") as batch:
        batch.drop_column("held")
