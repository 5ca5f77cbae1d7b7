"""revocable sessions, claims of imported firms, the name and county each rating certified

Revision ID: e1a7c3d9b254
Revises: 0b779f86f84e
Create Date: 2026-12-07 20:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

from rating.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = 'e1a7c3d9b254'
down_revision = '0b779f86f84e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_users_session_version'), 'session_version >= 0')

    op.create_table(
        'enterprise_claims',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('district_code', sa.String(length=6), nullable=False),
        sa.Column('industry', sa.String(length=1), nullable=False),
        sa.Column('scale', sa.String(length=8), nullable=False),
        sa.Column('contact_name', sa.String(length=50), nullable=False),
        sa.Column('contact_phone', sa.String(length=30), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_enterprise_claims_status')),
        sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_enterprise_claims_decided')),
        sa.CheckConstraint("(decided_at IS NULL) = (decided_by_id IS NULL)", name=op.f('ck_enterprise_claims_decided_by')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_enterprise_claims_decided_by_id_users')),
        sa.ForeignKeyConstraint(['district_code'], ['jurisdictions.code'], name=op.f('fk_enterprise_claims_district_code_jurisdictions')),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_enterprise_claims_enterprise_id_enterprises')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enterprise_claims_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_claims')),
        sa.UniqueConstraint('user_id', name=op.f('uq_enterprise_claims_user_id')),
    )
    with op.batch_alter_table('enterprise_claims', schema=None) as batch_op:
        batch_op.create_index('uq_enterprise_claims_approved', ['enterprise_id'], unique=True,
                              postgresql_where=sa.text("status = 'approved'"), sqlite_where=sa.text("status = 'approved'"))
        batch_op.create_index('ix_enterprise_claims_pending', ['enterprise_id'], unique=False,
                              postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    # Reset emails no longer keep their link in the outbox (the sender mints it): drop the
    # links kept so far. One still waiting is not sent with a stale copy; its reader asks again.
    op.execute("UPDATE email_outbox SET status = 'failed', claimed_at = NULL,"
               " last_error = 'link no longer kept: a new reset must be requested'"
               " WHERE kind = 'password_reset' AND status IN ('pending', 'sending')"
               " AND body NOT LIKE '%[password-reset-link]%'")
    op.execute("UPDATE email_outbox SET body = '[password-reset-link]'"
               " WHERE kind = 'password_reset' AND body NOT LIKE '%[password-reset-link]%'")

    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certified_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('certified_district_code', sa.String(length=6), nullable=True))
    # Ratings granted so far certified the firm as its record stands now.
    op.execute("UPDATE ratings SET certified_name = (SELECT name FROM enterprises WHERE enterprises.id = ratings.enterprise_id),"
               " certified_district_code = (SELECT district_code FROM enterprises WHERE enterprises.id = ratings.enterprise_id)")
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.alter_column('certified_name', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('certified_district_code', existing_type=sa.String(length=6), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_ratings_certified_district_code_jurisdictions'), 'jurisdictions',
                                    ['certified_district_code'], ['code'])


def downgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ratings_certified_district_code_jurisdictions'), type_='foreignkey')
        batch_op.drop_column('certified_district_code')
        batch_op.drop_column('certified_name')
    with op.batch_alter_table('enterprise_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_claims_pending', postgresql_where=sa.text("status = 'pending'"),
                            sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('uq_enterprise_claims_approved', postgresql_where=sa.text("status = 'approved'"),
                            sqlite_where=sa.text("status = 'approved'"))
    op.drop_table('enterprise_claims')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_session_version'), type_='check')
        batch_op.drop_column('session_version')
