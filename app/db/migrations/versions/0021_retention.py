"""per-client retention settings and purge bookkeeping

Revision ID: 0021_retention
Revises: 0019_merge
"""

from collections.abc import Sequence

revision: str = "0021_retention"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
