"""merge the branches built side by side from 0019_merge: privacy, retention, field mappings,
reconciliation

Revision ID: 0024_merge
Revises: 0020_privacy, 0021_retention, 0022_field_mappings, 0023_reconciliation
"""

from collections.abc import Sequence

revision: str = "0024_merge"
down_revision: str | Sequence[str] | None = (
    "0020_privacy",
    "0021_retention",
    "0022_field_mappings",
    "0023_reconciliation",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
