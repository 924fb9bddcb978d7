"""sandbox Drive: files, permissions, resumable upload sessions

Revision ID: 0003_drive_sandbox
Revises: 0002_airtable_sandbox
Create Date: 2026-11-25 20:36:08.393321
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003_drive_sandbox'
down_revision: str | None = '0002_airtable_sandbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sandbox_drive_files',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('mime_type', sa.String(length=255), nullable=False),
    sa.Column('parent_id', sa.String(length=40), nullable=True),
    sa.Column('app_properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('md5', sa.String(length=32), nullable=True),
    sa.Column('blob_name', sa.String(length=64), nullable=True),
    sa.Column('trashed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sandbox_drive_files_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_drive_files'))
    )
    with op.batch_alter_table('sandbox_drive_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_drive_files_client_id_id'), ['client_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_drive_files_client_id_parent_id'), ['client_id', 'parent_id'], unique=False)

    op.create_table('sandbox_drive_uploads',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('metadata_json', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('total_size', sa.BigInteger(), nullable=True),
    sa.Column('received', sa.BigInteger(), nullable=False),
    sa.Column('blob_name', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sandbox_drive_uploads_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_drive_uploads'))
    )
    with op.batch_alter_table('sandbox_drive_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_drive_uploads_client_id'), ['client_id'], unique=False)

    op.create_table('sandbox_drive_permissions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('file_id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=True),
    sa.Column('domain', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['sandbox_drive_files.id'], name=op.f('fk_sandbox_drive_permissions_file_id_sandbox_drive_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_drive_permissions'))
    )
    with op.batch_alter_table('sandbox_drive_permissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_drive_permissions_file_id'), ['file_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sandbox_drive_permissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_drive_permissions_file_id'))

    op.drop_table('sandbox_drive_permissions')
    with op.batch_alter_table('sandbox_drive_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_drive_uploads_client_id'))

    op.drop_table('sandbox_drive_uploads')
    with op.batch_alter_table('sandbox_drive_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_drive_files_client_id_parent_id'))
        batch_op.drop_index(batch_op.f('ix_sandbox_drive_files_client_id_id'))

    op.drop_table('sandbox_drive_files')
