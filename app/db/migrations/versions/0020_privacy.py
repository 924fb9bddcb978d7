"""personal data: subject identifiers index, erasure runs and receipts, suppression

Revision ID: 0020_privacy
Revises: 0019_merge
"""

from collections.abc import Sequence

revision: str = "0020_privacy"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
