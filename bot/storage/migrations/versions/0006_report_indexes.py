"""the reports: indexes (conversations by start, customers' and agents' messages, the
events that change hands) and the facts of each hand-over

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

REPORTED_EVENTS = "kind IN ('handoff', 'handback', 'resolved', 'satisfaction_asked')"
ENDING_EVENTS = "kind IN ('handback', 'resolved')"


def _where(condition: str) -> dict:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        'report_handovers',
        sa.Column('handoff_id', sa.Integer(), sa.ForeignKey('conversation_events.id'), primary_key=True),
        sa.Column('conversation_id', sa.Integer(), sa.ForeignKey('conversations.id'), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('conversation_started', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.String(length=64)),
        sa.Column('intent', sa.String(length=128)),
        sa.Column('first_reply_at', sa.DateTime(timezone=True)),
        sa.Column('first_reply_by', sa.String(length=255)),
        sa.Column('ended_at', sa.DateTime(timezone=True)),
        sa.Column('ended_kind', sa.String(length=16)),
        sa.Column('ended_by', sa.String(length=255)),
    )
    op.create_index('ix_report_handovers_conversation_started', 'report_handovers', ['conversation_started'])
    op.create_index('ix_conversations_created', 'conversations', ['created_at'], postgresql_include=['channel'])
    op.create_index('ix_messages_customer_created', 'messages', ['created_at'],
                    postgresql_include=['conversation_id', 'intent', 'confidence'],
                    **_where("author = 'customer'"))
    op.create_index('ix_messages_customer_conversation', 'messages', ['conversation_id', 'created_at'],
                    postgresql_include=['intent'], **_where("author = 'customer'"))
    op.create_index('ix_messages_agent', 'messages', ['conversation_id', 'created_at'],
                    postgresql_include=['agent_name'], **_where("author = 'agent'"))
    op.create_index('ix_conversation_events_reported', 'conversation_events', ['kind', 'created_at'],
                    postgresql_include=['conversation_id', 'data'], **_where(REPORTED_EVENTS))
    op.create_index('ix_conversation_events_endings', 'conversation_events', ['conversation_id', 'id'],
                    **_where(ENDING_EVENTS))


def downgrade() -> None:
    op.drop_index('ix_report_handovers_conversation_started', table_name='report_handovers')
    op.drop_table('report_handovers')
    op.drop_index('ix_conversation_events_endings', table_name='conversation_events')
    op.drop_index('ix_conversation_events_reported', table_name='conversation_events')
    op.drop_index('ix_messages_agent', table_name='messages')
    op.drop_index('ix_messages_customer_conversation', table_name='messages')
    op.drop_index('ix_messages_customer_created', table_name='messages')
    op.drop_index('ix_conversations_created', table_name='conversations')
