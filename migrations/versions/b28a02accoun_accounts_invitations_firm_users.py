"""accounts: staff invitations, firm users, last login, locale (issue 28)

Revision ID: b28a02accoun
Revises: b28a01batche
Create Date: 2026-12-08 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from rating.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'b28a02accoun'
down_revision = 'b28a01batche'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('is_firm_admin', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('last_login_at', UTCDateTime(), nullable=True))
    # The first user of each firm is its administrator.
    op.execute("UPDATE users SET is_firm_admin = true WHERE id IN"
               " (SELECT min(id) FROM users WHERE role = 'enterprise' GROUP BY enterprise_id)")
    op.execute("UPDATE users SET locale = NULL WHERE locale NOT IN ('zh_Hans_CN', 'en')")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_users_firm_admin'), "NOT is_firm_admin OR role = 'enterprise'")
        batch_op.create_check_constraint(op.f('ck_users_locale'), "locale IN ('zh_Hans_CN', 'en')")


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_locale'), type_='check')
        batch_op.drop_constraint(op.f('ck_users_firm_admin'), type_='check')
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('is_firm_admin')
        batch_op.drop_column('phone')
