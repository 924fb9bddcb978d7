"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 19:40:59.389251
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clients',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('lookup_id', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_api_keys_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('lookup_id', name=op.f('uq_api_keys_lookup_id'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_client_id'), ['client_id'], unique=False)

    op.create_table('canonical_records',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('source_platform', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('last_job_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_canonical_records_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canonical_records')),
    sa.UniqueConstraint('client_id', 'livemode', 'entity', 'source_platform', 'external_id', name='uq_canonical_records_identity')
    )
    with op.batch_alter_table('canonical_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_canonical_records_client_id_livemode_entity_id'), ['client_id', 'livemode', 'entity', 'id'], unique=False)

    op.create_table('ingest_jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('api_key_id', sa.String(length=40), nullable=True),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('door', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('valid', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('stale', sa.Integer(), nullable=False),
    sa.Column('written', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_ingest_jobs_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_jobs')),
    sa.UniqueConstraint('client_id', 'livemode', 'idempotency_key', name='uq_ingest_jobs_idempotency')
    )
    with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_jobs_client_id_livemode_id'), ['client_id', 'livemode', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ingest_jobs_status_lease_expires_at'), ['status', 'lease_expires_at'], unique=False)

    op.create_table('record_errors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['ingest_jobs.id'], name=op.f('fk_record_errors_job_id_ingest_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_errors'))
    )
    with op.batch_alter_table('record_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_errors_job_id_position'), ['job_id', 'position'], unique=False)

    op.create_table('staged_records',
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['ingest_jobs.id'], name=op.f('fk_staged_records_job_id_ingest_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'position', name=op.f('pk_staged_records'))
    )


def downgrade() -> None:
    op.drop_table('staged_records')
    with op.batch_alter_table('record_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_errors_job_id_position'))

    op.drop_table('record_errors')
    with op.batch_alter_table('ingest_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_jobs_status_lease_expires_at'))
        batch_op.drop_index(batch_op.f('ix_ingest_jobs_client_id_livemode_id'))

    op.drop_table('ingest_jobs')
    with op.batch_alter_table('canonical_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canonical_records_client_id_livemode_entity_id'))

    op.drop_table('canonical_records')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_client_id'))

    op.drop_table('api_keys')
    op.drop_table('clients')
