"""providers with aliases, audit browsing indexes (issue 28)

Revision ID: b28a03audprv
Revises: b28a02accoun
Create Date: 2026-12-08 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from rating.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'b28a03audprv'
down_revision = 'b28a02accoun'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_actor_seq', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_action_seq', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_type_seq', ['object_type', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_at', ['at'], unique=False)
    op.create_table('audit_verified',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('verified_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_verified_single_row')),
    sa.CheckConstraint('length(hash) = 64', name=op.f('ck_audit_verified_hash_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verified'))
    )


def downgrade():
    op.drop_table('audit_verified')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_at')
        batch_op.drop_index('ix_audit_entries_type_seq')
        batch_op.drop_index('ix_audit_entries_action_seq')
        batch_op.drop_index('ix_audit_entries_actor_seq')
