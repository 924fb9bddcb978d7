"""AMS sync change marker: canonical records the sync has not handled since their content changed

`canonical_records.sync_pending` (true on every content write, cleared by the sync once it has
handled that content) with a partial index, so a sync pass reads the changed records only instead
of the whole catalogue; `ams_sync_records` indexes for the field-map version (records to look at
again after a field map change or a reconciliation repair) and for archived rows.

Existing records start pending unless their AMS bookkeeping already holds their content.

Revision ID: 0027_sync_watermark
Revises: 0026_ams_archival
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_sync_watermark"
down_revision: str | None = "0026_ams_archival"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_INDEX = "ix_canonical_records_sync_pending"
ARCHIVED_INDEX = "ix_ams_sync_records_archived"
MAP_VERSION_INDEX = "ix_ams_sync_records_client_id_livemode_entity_map_version"
_IDENTITY = ("client_id", "livemode", "entity", "source_platform", "external_id")


def upgrade() -> None:
    op.add_column(
        "canonical_records",
        sa.Column("sync_pending", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    _settle_synced()
    op.create_index(
        PENDING_INDEX,
        "canonical_records",
        ["client_id", "livemode", "entity", "id"],
        sqlite_where=sa.text("sync_pending = 1"),
        postgresql_where=sa.text("sync_pending"),
    )
    op.create_index(
        MAP_VERSION_INDEX, "ams_sync_records", ["client_id", "livemode", "entity", "map_version"]
    )
    op.create_index(
        ARCHIVED_INDEX,
        "ams_sync_records",
        ["client_id", "livemode", "entity", "archived_at"],
        sqlite_where=sa.text("archived_at IS NOT NULL"),
        postgresql_where=sa.text("archived_at IS NOT NULL"),
    )


def _settle_synced() -> None:
    """Records whose content the AMS bookkeeping already holds are not pending."""
    record = sa.table(
        "canonical_records",
        *(sa.column(name) for name in _IDENTITY),
        sa.column("content_hash"),
        sa.column("sync_pending", sa.Boolean()),
    )
    synced = sa.table(
        "ams_sync_records", *(sa.column(name) for name in _IDENTITY), sa.column("content_hash")
    )
    same = sa.and_(
        *(synced.c[name] == record.c[name] for name in _IDENTITY),
        synced.c.content_hash == record.c.content_hash,
    )
    op.execute(sa.update(record).where(sa.exists().where(same)).values(sync_pending=sa.false()))


def downgrade() -> None:
    op.drop_index(ARCHIVED_INDEX, table_name="ams_sync_records")
    op.drop_index(MAP_VERSION_INDEX, table_name="ams_sync_records")
    op.drop_index(PENDING_INDEX, table_name="canonical_records")
    with op.batch_alter_table("canonical_records") as batch_op:
        batch_op.drop_column("sync_pending")
