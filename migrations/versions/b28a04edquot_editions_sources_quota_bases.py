"""guide edition sources, quotas by count or share of a base (issue 28)

Revision ID: b28a04edquot
Revises: b28a03audprv
Create Date: 2026-12-08 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from rating.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'b28a04edquot'
down_revision = 'b28a03audprv'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('guide_editions') as batch_op:
        batch_op.add_column(sa.Column('source', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('source_type', sa.String(length=40), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_guide_editions_source_type'), "source_type IS NULL OR source_type IN ('text/yaml', 'application/json')")
    with op.batch_alter_table('batch_quotas') as batch_op:
        batch_op.add_column(sa.Column('base_source', sa.String(length=10), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_batch_quotas_base_source'), "base_source IS NULL OR (base_source IN ('typed', 'firms') AND percent IS NOT NULL)")


def downgrade():
    with op.batch_alter_table('batch_quotas') as batch_op:
        batch_op.drop_constraint(op.f('ck_batch_quotas_base_source'), type_='check')
        batch_op.drop_column('base_source')
    with op.batch_alter_table('guide_editions') as batch_op:
        batch_op.drop_constraint(op.f('ck_guide_editions_source_type'), type_='check')
        batch_op.drop_column('source_type')
        batch_op.drop_column('source')
