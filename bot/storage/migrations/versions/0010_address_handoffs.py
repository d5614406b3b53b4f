"""handoffs to the human queue made from each client address of the open channels

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

from bot.storage.models import UtcDateTime


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'address_handoffs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_address', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_address_handoffs_address', 'address_handoffs', ['client_address', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_address_handoffs_address', table_name='address_handoffs')
    op.drop_table('address_handoffs')
