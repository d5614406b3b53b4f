"""the reputation watch: public posts and their moderation on messages; alerts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
import bot.storage.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_public', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('moderation', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_messages_public', ['is_public', 'created_at'], unique=False)
    # Customers' posts stored before: their JSON said whether they were public.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE messages SET is_public = true "
                   "WHERE direction = 'in' AND (data::json ->> 'is_public') = 'true'")
    else:
        op.execute("UPDATE messages SET is_public = 1 "
                   "WHERE direction = 'in' AND json_extract(data, '$.is_public') = 1")
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('active_slot', sa.Integer(), nullable=True),
    sa.Column('raised_at', bot.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', bot.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('window_start', bot.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('window_end', bot.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('posts', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('webhook_status', sa.String(length=16), nullable=False),
    sa.Column('webhook_attempts', sa.Integer(), nullable=False),
    sa.Column('webhook_next_at', bot.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('webhook_lease_until', bot.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('webhook_error', sa.Text(), nullable=True),
    sa.Column('webhook_sent_at', bot.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'active_slot', name='uq_alerts_active')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_webhook', ['webhook_status', 'webhook_next_at'], unique=False)
        batch_op.create_index('ix_alerts_raised', ['raised_at'], unique=False)


def downgrade() -> None:
    op.drop_table('alerts')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_public')
        batch_op.drop_column('moderation')
        batch_op.drop_column('is_public')
