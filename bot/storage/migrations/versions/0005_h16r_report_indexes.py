"""indexes for the reports: conversations by start, customers' and agents' messages, the
events that change hands

Revision ID: 0005_h16r
Revises: 0004
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_h16r'
down_revision = '0004'
branch_labels = None
depends_on = None

REPORTED_EVENTS = "kind IN ('handoff', 'handback', 'resolved', 'satisfaction_asked')"
ENDING_EVENTS = "kind IN ('handback', 'resolved')"


def _where(condition: str) -> dict:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_index('ix_conversations_created', 'conversations', ['created_at'])
    op.create_index('ix_messages_customer_created', 'messages', ['created_at'],
                    postgresql_include=['conversation_id', 'intent', 'confidence'],
                    **_where("author = 'customer'"))
    op.create_index('ix_messages_agent', 'messages', ['conversation_id', 'created_at'], **_where("author = 'agent'"))
    op.create_index('ix_conversation_events_reported', 'conversation_events', ['kind', 'created_at'],
                    **_where(REPORTED_EVENTS))
    op.create_index('ix_conversation_events_endings', 'conversation_events', ['conversation_id', 'id'],
                    **_where(ENDING_EVENTS))


def downgrade() -> None:
    op.drop_index('ix_conversation_events_endings', table_name='conversation_events')
    op.drop_index('ix_conversation_events_reported', table_name='conversation_events')
    op.drop_index('ix_messages_agent', table_name='messages')
    op.drop_index('ix_messages_customer_created', table_name='messages')
    op.drop_index('ix_conversations_created', table_name='conversations')
