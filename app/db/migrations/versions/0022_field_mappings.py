"""per-client field-mapping overrides and conflict resolution (field ownership, identities, history)

Revision ID: 0022_field_mappings
Revises: 0019_merge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_field_mappings"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SKU_INDEX = "ix_canonical_records_sku"


def upgrade() -> None:
    op.create_table(
        "field_mapping_sets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_field_mapping_sets_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_mapping_sets")),
        sa.UniqueConstraint(
            "client_id",
            "livemode",
            "platform",
            "entity",
            "version",
            name="uq_field_mapping_sets_version",
        ),
    )
    with op.batch_alter_table("ingest_jobs") as batch_op:
        batch_op.add_column(sa.Column("mapping_version", sa.Integer(), nullable=True))
    op.create_table(
        "record_resolutions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("source_platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_record_resolutions_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_resolutions")),
    )
    op.create_index(
        "ix_record_resolutions_record",
        "record_resolutions",
        ["client_id", "livemode", "entity", "source_platform", "external_id", "id"],
    )
    op.create_index(
        op.f("ix_record_resolutions_client_id_livemode_id"),
        "record_resolutions",
        ["client_id", "livemode", "id"],
    )

    op.create_table(
        "conflict_policies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=32), nullable=True),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_conflict_policies_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflict_policies")),
        sa.UniqueConstraint(
            "client_id", "livemode", "entity", "version", name="uq_conflict_policies_version"
        ),
    )

    # Products by SKU (app.records.identity): an expression index, one SQL text per backend
    # (copied here so this revision never changes when the code does).
    expression = {"sqlite": "json_extract(data, '$.sku')", "postgresql": "(data ->> 'sku')"}
    dialect = op.get_bind().dialect.name
    op.execute(
        f"CREATE INDEX {SKU_INDEX} ON canonical_records "
        f"(client_id, livemode, entity, {expression[dialect]})"
    )


def downgrade() -> None:
    op.drop_table("conflict_policies")
    op.execute(f"DROP INDEX {SKU_INDEX}")
    op.drop_index(op.f("ix_record_resolutions_client_id_livemode_id"), "record_resolutions")
    op.drop_index(
        "ix_record_resolutions_record",
        "record_resolutions",
    )
    op.drop_table("record_resolutions")
    with op.batch_alter_table("ingest_jobs") as batch_op:
        batch_op.drop_column("mapping_version")
    op.drop_table("field_mapping_sets")
