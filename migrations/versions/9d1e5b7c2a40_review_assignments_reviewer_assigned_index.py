"""review assignments: index on (reviewer, assigned at) for routing's longest-idle rule

Revision ID: 9d1e5b7c2a40
Revises: 3c374b764ba2
Create Date: 2026-12-03 08:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9d1e5b7c2a40'
down_revision = '3c374b764ba2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_review_assignments_reviewer_assigned', ['reviewer_id', 'assigned_at'], unique=False)


def downgrade():
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_review_assignments_reviewer_assigned')
