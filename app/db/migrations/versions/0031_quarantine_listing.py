"""Quarantine listing in id order without a sort: per tenant, and per job

Revision ID: 0031_quarantine_listing
Revises: 0030_ams_identity_rows
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031_quarantine_listing"
down_revision: str | None = "0030_ams_identity_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_quarantined_records_client_id_livemode_id"),
        "quarantined_records",
        ["client_id", "livemode", "id"],
    )
    op.create_index(
        op.f("ix_quarantined_records_job_id_id"), "quarantined_records", ["job_id", "id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantined_records_job_id_id"), table_name="quarantined_records")
    op.drop_index(
        op.f("ix_quarantined_records_client_id_livemode_id"), table_name="quarantined_records"
    )
