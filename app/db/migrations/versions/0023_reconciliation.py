"""reconciliation audit runs and mismatches; AMS circuit state

Revision ID: 0023_reconciliation
Revises: 0019_merge
"""

from collections.abc import Sequence

revision: str = "0023_reconciliation"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
