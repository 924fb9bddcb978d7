"""client defaults: currency, phone region and time zone that fill gaps in raw records

Revision ID: 0007_client_defaults
Revises: 0006_merge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_client_defaults"
down_revision: str | None = "0006_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("default_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("default_region", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("default_region")
        batch_op.drop_column("default_currency")
