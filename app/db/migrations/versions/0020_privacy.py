"""personal data: subject identifiers index, erasure runs and receipts, suppression

Revision ID: 0020_privacy
Revises: 0019_merge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020_privacy"
down_revision: str | None = "0019_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expression indexes that find a person by identifier without a table scan, one SQL text per
# backend; the queries in app.privacy.footprint use the very same texts (app.privacy.lookup_sql,
# copied here so this revision never changes when the code does).
EXPRESSION_INDEXES = {
    "ix_canonical_records_subject_email": (
        "canonical_records",
        "client_id, livemode",
        {
            "sqlite": "json_extract(data, '$.email')",
            "postgresql": "(data ->> 'email')",
        },
    ),
    "ix_canonical_records_subject_phone": (
        "canonical_records",
        "client_id, livemode",
        {
            "sqlite": "json_extract(data, '$.phone')",
            "postgresql": "(data ->> 'phone')",
        },
    ),
    "ix_staged_records_subject_email": (
        "staged_records",
        "client_id",
        {
            "sqlite": "lower(coalesce(json_extract(payload, '$.email'), "
            "json_extract(payload, '$.properties.email'), json_extract(payload, '$.Email'), "
            "json_extract(payload, '$.billing.email')))",
            "postgresql": "lower(\nCASE\n    WHEN strpos(payload, '\\u0000') = 0 THEN COALESCE("
            "payload::json ->> 'email', payload::json #>> '{properties,email}', "
            "payload::json ->> 'Email', payload::json #>> '{billing,email}')\n    ELSE NULL\nEND)",
        },
    ),
    "ix_staged_records_subject_external_id": (
        "staged_records",
        "client_id",
        {
            "sqlite": "CAST(coalesce(json_extract(payload, '$.external_id'), "
            "json_extract(payload, '$.id'), json_extract(payload, '$.Id')) AS TEXT)",
            "postgresql": "(\nCASE\n    WHEN strpos(payload, '\\u0000') = 0 THEN COALESCE("
            "payload::json ->> 'external_id', payload::json ->> 'id', payload::json ->> 'Id')"
            "\n    ELSE NULL\nEND)",
        },
    ),
    "ix_webhook_notices_subject_email": (
        "webhook_notices",
        "client_id, livemode",
        {
            "sqlite": "lower(coalesce(json_extract(payload, '$.email'), "
            "json_extract(payload, '$.properties.email'), json_extract(payload, '$.Email'), "
            "json_extract(payload, '$.billing.email'), "
            "json_extract(payload, '$.propertyValue')))",
            "postgresql": "lower(COALESCE(payload ->> 'email', "
            "payload #>> '{properties,email}', payload ->> 'Email', "
            "payload #>> '{billing,email}', payload ->> 'propertyValue'))",
        },
    ),
}


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "privacy_erasure_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("identifier_kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("footprint", _json(), nullable=True),
        sa.Column("removed", _json(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_privacy_erasure_runs_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasure_runs")),
    )
    op.create_index(
        op.f("ix_privacy_erasure_runs_client_id_livemode_subject_hash_status"),
        "privacy_erasure_runs",
        ["client_id", "livemode", "subject_hash", "status"],
    )
    op.create_index(
        op.f("ix_privacy_erasure_runs_status_updated_at"),
        "privacy_erasure_runs",
        ["status", "updated_at"],
    )
    op.create_table(
        "privacy_settings",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("suppress_erased", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_privacy_settings_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "livemode", name=op.f("pk_privacy_settings")),
    )
    op.create_table(
        "privacy_suppressed_subjects",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_privacy_suppressed_subjects_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "livemode", "subject_hash", name=op.f("pk_privacy_suppressed_subjects")
        ),
    )
    op.create_index(
        "ix_canonical_records_subject_external_id",
        "canonical_records",
        ["client_id", "livemode", "entity", "external_id"],
    )
    op.create_index(
        "ix_quarantined_records_subject_external_id",
        "quarantined_records",
        ["client_id", "livemode", "external_id"],
    )
    op.create_index(
        "ix_webhook_notices_subject_object_id",
        "webhook_notices",
        ["client_id", "livemode", "source", "object_id"],
    )
    dialect = op.get_bind().dialect.name
    for name, (table, columns, expression) in EXPRESSION_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} ({columns}, {expression[dialect]})")


def downgrade() -> None:
    for name in EXPRESSION_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.drop_index("ix_webhook_notices_subject_object_id", "webhook_notices")
    op.drop_index("ix_quarantined_records_subject_external_id", "quarantined_records")
    op.drop_index("ix_canonical_records_subject_external_id", "canonical_records")
    op.drop_table("privacy_suppressed_subjects")
    op.drop_table("privacy_settings")
    op.drop_table("privacy_erasure_runs")
