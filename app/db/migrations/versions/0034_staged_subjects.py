"""Staged audience payloads' email and id in columns (app.privacy.staged_subjects), replacing
the expression indexes that parsed every staged payload's JSON on insert

Revision ID: 0034_staged_subjects
Revises: 0033_partial_updates
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_staged_subjects"
down_revision: str | None = "0033_partial_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What 0020_privacy's expression indexes read, per dialect: the backfill reads it once.
_EMAIL = {
    "sqlite": "lower(coalesce(json_extract(payload, '$.email'), "
    "json_extract(payload, '$.properties.email'), json_extract(payload, '$.Email'), "
    "json_extract(payload, '$.billing.email')))",
    "postgresql": "lower(CASE WHEN strpos(payload, '\\u0000') = 0 THEN COALESCE("
    "payload::json ->> 'email', payload::json #>> '{properties,email}', "
    "payload::json ->> 'Email', payload::json #>> '{billing,email}') ELSE NULL END)",
}
_EXTERNAL_ID = {
    "sqlite": "CAST(coalesce(json_extract(payload, '$.external_id'), "
    "json_extract(payload, '$.id'), json_extract(payload, '$.Id')) AS TEXT)",
    "postgresql": "(CASE WHEN strpos(payload, '\\u0000') = 0 THEN COALESCE("
    "payload::json ->> 'external_id', payload::json ->> 'id', payload::json ->> 'Id') "
    "ELSE NULL END)",
}
_INDEXES = {
    "ix_staged_records_subject_email": ("subject_email", _EMAIL),
    "ix_staged_records_subject_external_id": ("subject_external_id", _EXTERNAL_ID),
}
_MAX_SUBJECT = 512  # app.privacy.staged_subjects.MAX_SUBJECT


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("staged_records") as batch:
        batch.add_column(sa.Column("subject_email", sa.Text(), nullable=True))
        batch.add_column(sa.Column("subject_external_id", sa.Text(), nullable=True))
    for column, expression in _INDEXES.values():
        op.execute(
            f"UPDATE staged_records SET {column} = {expression[dialect]} "
            "WHERE job_id IN (SELECT id FROM ingest_jobs WHERE entity = 'audience')"
        )
        op.execute(
            f"UPDATE staged_records SET {column} = NULL WHERE length({column}) > {_MAX_SUBJECT}"
        )
    for name, (column, _) in _INDEXES.items():
        op.create_index(
            name,
            "staged_records",
            ["client_id", column],
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in _INDEXES:
        op.drop_index(name, table_name="staged_records")
    with op.batch_alter_table("staged_records") as batch:
        batch.drop_column("subject_external_id")
        batch.drop_column("subject_email")
    for name, (_, expression) in _INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON staged_records (client_id, {expression[dialect]})")
