"""raw ingest: ingest jobs remember the source platform whose native shape they hold

Revision ID: 0005_raw_ingest
Revises: 0003_drive_sandbox
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_raw_ingest'
down_revision: str | None = '0003_drive_sandbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_platform', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
        batch_op.drop_column('source_platform')
