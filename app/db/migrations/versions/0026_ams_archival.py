"""AMS deletions and archival: full resync passes, archived records, AMS rejections held in quarantine

Revision ID: 0026_ams_archival
Revises: 0025_ams_credentials
"""

from collections.abc import Sequence

revision: str = "0026_ams_archival"
down_revision: str | None = "0025_ams_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
