"""providers with aliases, audit browsing indexes (issue 28)

Revision ID: b28a03audprv
Revises: b28a02accoun
Create Date: 2026-12-08 03:40:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from rating.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'b28a03audprv'
down_revision = 'b28a02accoun'
branch_labels = None
depends_on = None


_KNOWN = [('阿里云', '阿里云计算有限公司'), ('华为云', '华为云计算技术有限公司'),
          ('腾讯云', '腾讯云计算（北京）有限责任公司'), ('天翼云', '天翼云科技有限公司')]


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
    providers = op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('length(trim(name)) > 0', name=op.f('ck_providers_name_not_blank')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_providers_name'))
    )
    aliases = op.create_table('provider_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.CheckConstraint('length(trim(alias)) > 0', name=op.f('ck_provider_aliases_alias_not_blank')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_aliases_provider_id_providers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_aliases')),
    sa.UniqueConstraint('alias', name=op.f('uq_provider_aliases_alias'))
    )
    with op.batch_alter_table('provider_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_aliases_provider_id'), ['provider_id'], unique=False)
    # The best-known providers and their registered company names, for officials to extend.
    now = datetime.now(timezone.utc)
    op.bulk_insert(providers, [{'id': i, 'name': name, 'created_at': now}
                               for i, (name, _alias) in enumerate(_KNOWN, start=1)])
    op.bulk_insert(aliases, [{'provider_id': i, 'alias': alias} for i, (_name, alias) in enumerate(_KNOWN, start=1)])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval('providers_id_seq', (SELECT max(id) FROM providers))")


def downgrade():
    with op.batch_alter_table('provider_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_aliases_provider_id'))
    op.drop_table('provider_aliases')
    op.drop_table('providers')
    op.drop_table('audit_verified')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_at')
        batch_op.drop_index('ix_audit_entries_type_seq')
        batch_op.drop_index('ix_audit_entries_action_seq')
        batch_op.drop_index('ix_audit_entries_actor_seq')
