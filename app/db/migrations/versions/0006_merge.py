"""merge the AMS provisioning and raw ingest branches (both revise 0003_drive_sandbox)

Revision ID: 0006_merge
Revises: 0004_ams_provisioning, 0005_raw_ingest
Create Date: 2026-11-26 10:30:00.000000
"""

from collections.abc import Sequence

revision: str = '0006_merge'
down_revision: str | Sequence[str] | None = ('0004_ams_provisioning', '0005_raw_ingest')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
