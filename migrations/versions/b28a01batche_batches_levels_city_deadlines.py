"""batches: levels offered, city deadlines (issue 28)

Revision ID: b28a01batche
Revises: e1a7c3d9b254
Create Date: 2026-12-08 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from rating.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'b28a01batche'
down_revision = 'e1a7c3d9b254'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'levels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True))
        batch_op.create_check_constraint(op.f('ck_batches_investment_before_cutoff'),
                                         'investment_to <= usage_cutoff')
    op.create_table('batch_city_deadlines',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('city_code', sa.String(length=6), nullable=False),
    sa.Column('closes_at', UTCDateTime(), nullable=False),
    sa.Column('set_by', sa.Integer(), nullable=True),
    sa.Column('set_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_city_deadlines_batch_id_batches')),
    sa.ForeignKeyConstraint(['city_code'], ['jurisdictions.code'], name=op.f('fk_batch_city_deadlines_city_code_jurisdictions')),
    sa.ForeignKeyConstraint(['set_by'], ['users.id'], name=op.f('fk_batch_city_deadlines_set_by_users')),
    sa.PrimaryKeyConstraint('batch_id', 'city_code', name=op.f('pk_batch_city_deadlines'))
    )


def downgrade():
    op.drop_table('batch_city_deadlines')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_batches_investment_before_cutoff'), type_='check')
        batch_op.drop_column('levels')
