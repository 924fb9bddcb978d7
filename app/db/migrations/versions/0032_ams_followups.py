"""AMS follow-ups: `ams_sync_state.unchanged` dropped

The figure is computed when it is read (app.ams.service.unchanged_count); no sync writes the
column any more. A downgrade brings it back as 0 for every entity, as the sync left it.

Revision ID: 0032_ams_followups
Revises: 0031_quarantine_listing
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_ams_followups"
down_revision: str | None = "0031_quarantine_listing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ams_sync_state") as batch_op:
        batch_op.drop_column("unchanged")


def downgrade() -> None:
    with op.batch_alter_table("ams_sync_state") as batch_op:
        batch_op.add_column(
            sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("ams_sync_state") as batch_op:
        batch_op.alter_column("unchanged", server_default=None)
