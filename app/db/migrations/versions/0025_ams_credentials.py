"""per-client AMS credentials (live Airtable tokens, Google service accounts), stored encrypted

Revision ID: 0025_ams_credentials
Revises: 0024_merge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_ams_credentials"
down_revision: str | None = "0024_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ams_credentials",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("airtable_token_encrypted", sa.Text(), nullable=True),
        sa.Column("airtable_token_hint", sa.String(length=8), nullable=True),
        sa.Column("airtable_workspace_id", sa.String(length=32), nullable=True),
        sa.Column("google_service_account_encrypted", sa.Text(), nullable=True),
        sa.Column("google_service_account_email", sa.String(length=320), nullable=True),
        sa.Column("google_root_folder_id", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ams_credentials_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_ams_credentials")),
    )


def downgrade() -> None:
    op.drop_table("ams_credentials")
