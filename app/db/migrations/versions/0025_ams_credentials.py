"""per-client AMS credentials (live Airtable tokens, Google service accounts), stored encrypted

Revision ID: 0025_ams_credentials
Revises: 0024_merge
"""

from collections.abc import Sequence

revision: str = "0025_ams_credentials"
down_revision: str | None = "0024_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
