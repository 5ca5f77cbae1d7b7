"""email outbox: a time of next attempt per message, so that failed mail waits its turn

While the mail server cannot be reached, every flush used to try the oldest waiting
messages again at once: each write on a deadline day re-sent (and failed) a hundred
messages, and the mail of an hour's outage was marked failed after eight quick tries.

Revision ID: 5e2b8c41d7f3
Revises: 9d1e5b7c2a40
Create Date: 2026-12-04 19:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e2b8c41d7f3'
down_revision = '9d1e5b7c2a40'
branch_labels = None
depends_on = None


def upgrade():
    # What waits now is due at once: its next attempt is when it was written.
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE email_outbox SET next_attempt_at = created_at")
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.alter_column('next_attempt_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_index('ix_email_outbox_status_created')
        batch_op.create_index('ix_email_outbox_status_next_attempt', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_email_outbox_status_next_attempt')
        batch_op.create_index('ix_email_outbox_status_created', ['status', 'created_at'], unique=False)
        batch_op.drop_column('next_attempt_at')
