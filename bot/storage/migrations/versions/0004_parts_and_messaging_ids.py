"""outbox progress of multi-part replies; the id a commenter's private messages come from

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parts_sent', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('messaging_id', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_customers_messaging_id', ['channel', 'messaging_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_messaging_id')
        batch_op.drop_column('messaging_id')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('parts_sent')
