"""Configurable identity link keys: record_identities (a stored record's value of its entity's
identity key, app.records.identity) replaces the SKU expression index; conflict policies keep
longer keys (attributes.<name>) and how many records a key change re-linked.

Existing records are indexed under each tenant's current key (its newest policy, else products by
sku and audience by email), with the same rule as the code: string values of 1 to 255 characters.

Revision ID: 0029_link_keys
Revises: 0028_ams_exhaustion
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_link_keys"
down_revision: str | None = "0028_ams_exhaustion"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SKU_INDEX = "ix_canonical_records_sku"
DEFAULT_KEYS = {"product": "sku", "audience": "email"}


def _value_sql(dialect: str, key: str) -> tuple[str, str]:
    """The key's value in canonical_records.data, and the condition that it is an identity
    value (copied here so this revision never changes when the code does)."""
    steps = key.split(".", 1) if key.startswith("attributes.") else [key]
    if dialect == "postgresql":
        path = "'{" + ",".join(steps) + "}'"
        value = f"(data #>> {path})"
        kind = f"jsonb_typeof(data #> {path}) = 'string'"
    else:
        path = "'$." + ".".join(f'"{step}"' for step in steps) + "'"
        value = f"json_extract(data, {path})"
        kind = f"json_type(data, {path}) = 'text'"
    return value, f"{kind} AND length({value}) BETWEEN 1 AND 255"


def _current_keys(bind: sa.engine.Connection) -> list[tuple[str, bool, str, str]]:
    """(client, mode, entity, key) for every tenant's entity that has stored records."""
    scopes = bind.execute(
        sa.text("SELECT DISTINCT client_id, livemode, entity FROM canonical_records")
    ).all()
    keys = []
    for client_id, livemode, entity in scopes:
        row = bind.execute(
            sa.text(
                "SELECT identity FROM conflict_policies WHERE client_id = :c AND livemode = :m "
                "AND entity = :e ORDER BY version DESC LIMIT 1"
            ),
            {"c": client_id, "m": livemode, "e": entity},
        ).first()
        key = row[0] if row is not None else DEFAULT_KEYS.get(entity)
        if key is not None:
            keys.append((client_id, livemode, entity, key))
    return keys


def upgrade() -> None:
    op.create_table(
        "record_identities",
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_record_identities_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["canonical_records.id"],
            name=op.f("fk_record_identities_record_id_canonical_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_identities")),
    )
    op.create_index(
        "ix_record_identities_value",
        "record_identities",
        ["client_id", "livemode", "entity", "key", "value"],
    )
    with op.batch_alter_table("conflict_policies") as batch:
        batch.alter_column(
            "identity", existing_type=sa.String(length=32), type_=sa.String(length=80)
        )
        batch.add_column(sa.Column("relinked", sa.Integer(), nullable=True))

    bind = op.get_bind()
    for client_id, livemode, entity, key in _current_keys(bind):
        value, usable = _value_sql(bind.dialect.name, key)
        bind.execute(
            sa.text(
                "INSERT INTO record_identities "
                "(record_id, client_id, livemode, entity, key, value) "
                f"SELECT id, client_id, livemode, entity, :k, {value} FROM canonical_records "
                f"WHERE client_id = :c AND livemode = :m AND entity = :e AND {usable}"
            ),
            {"k": key, "c": client_id, "m": livemode, "e": entity},
        )
    op.execute(f"DROP INDEX {SKU_INDEX}")


def downgrade() -> None:
    expression = {"sqlite": "json_extract(data, '$.sku')", "postgresql": "(data ->> 'sku')"}
    dialect = op.get_bind().dialect.name
    op.execute(
        f"CREATE INDEX {SKU_INDEX} ON canonical_records "
        f"(client_id, livemode, entity, {expression[dialect]})"
    )
    with op.batch_alter_table("conflict_policies") as batch:
        batch.drop_column("relinked")
        batch.alter_column(
            "identity", existing_type=sa.String(length=80), type_=sa.String(length=32)
        )
    op.drop_index("ix_record_identities_value", "record_identities")
    op.drop_table("record_identities")
