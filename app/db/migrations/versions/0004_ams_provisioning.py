"""AMS provisioning and onboarding

Revision ID: 0004_ams_provisioning
Revises: 0003_drive_sandbox
Create Date: 2026-11-25 21:04:45.263060
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004_ams_provisioning'
down_revision: str | None = '0003_drive_sandbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ams_provisioning',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('base_id', sa.String(length=17), nullable=True),
    sa.Column('root_folder_id', sa.String(length=64), nullable=True),
    sa.Column('folder_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('permission_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('config_version', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('provisioned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('onboarding_status', sa.String(length=24), nullable=True),
    sa.Column('onboarding_reason', sa.Text(), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('validated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('production_ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=40), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_ams_provisioning_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ams_provisioning')),
    sa.UniqueConstraint('client_id', 'livemode', name=op.f('uq_ams_provisioning_client_id_livemode'))
    )


def downgrade() -> None:
    op.drop_table('ams_provisioning')
