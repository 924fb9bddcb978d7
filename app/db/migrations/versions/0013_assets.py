"""sandbox Drive: a resumable upload may replace the content of an existing file

Revision ID: 0013_assets
Revises: 0007_client_defaults
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_assets"
down_revision: str | None = "0007_client_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_drive_uploads") as batch_op:
        batch_op.add_column(sa.Column("replaces_file_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_drive_uploads") as batch_op:
        batch_op.drop_column("replaces_file_id")
