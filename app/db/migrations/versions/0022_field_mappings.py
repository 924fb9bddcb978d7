"""per-client field-mapping overrides and conflict resolution (field ownership, identities, history)

Revision ID: 0022_field_mappings
Revises: 0019_merge
"""

from collections.abc import Sequence

revision: str = "0022_field_mappings"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
