"""quarantine and validation rules: quarantined records, each client's rule versions, the rule
id on record errors and the replay link on staged records

Revision ID: 0009_quarantine
Revises: 0007_client_defaults
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_quarantine"
down_revision: str | None = "0007_client_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "quarantined_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=True),
        sa.Column("raw_platform", sa.String(length=16), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mapped", _json(), nullable=True),
        sa.Column("patches", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("replay_job_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discarded_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_quarantined_records_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["ingest_jobs.id"],
            name=op.f("fk_quarantined_records_job_id_ingest_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_records")),
    )
    with op.batch_alter_table("quarantined_records") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantined_records_client_id_livemode_status_id"),
            ["client_id", "livemode", "status", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_quarantined_records_job_id_position"),
            ["job_id", "position"],
            unique=False,
        )
    op.create_table(
        "validation_rule_sets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_validation_rule_sets_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_rule_sets")),
        sa.UniqueConstraint(
            "client_id", "livemode", "entity", "version", name="uq_validation_rule_sets_version"
        ),
    )
    with op.batch_alter_table("record_errors") as batch_op:
        batch_op.add_column(sa.Column("rule_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("staged_records") as batch_op:
        batch_op.add_column(sa.Column("quarantine_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staged_records") as batch_op:
        batch_op.drop_column("quarantine_id")
    with op.batch_alter_table("record_errors") as batch_op:
        batch_op.drop_column("rule_id")
    op.drop_table("validation_rule_sets")
    with op.batch_alter_table("quarantined_records") as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_records_job_id_position"))
        batch_op.drop_index(batch_op.f("ix_quarantined_records_client_id_livemode_status_id"))
    op.drop_table("quarantined_records")
