"""The facts of each hand-over the reports need (table `report_handovers`), kept where the
history is written: bot/storage/history.py works a conversation's facts out again in the
transaction that writes one of its hand-overs, hand-backs, resolutions or agent replies,
and migration 0008 works out those of the history written before. A report only reads
them (bot/storage/reports.py): it never writes, and never waits for a backlog.

The facts are made by one SQL statement from the history itself, the same for a single
conversation and for the migration's batches, so what a report counts is exactly what
docs/analytics.md defines, however the history was written.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, case, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from bot.storage.models import Conversation, ConversationEvent, Message, ReportHandover

# The events a person's part is made of; an agent's message is the other thing that changes it.
# A reopening takes back the resolution before it: the part goes on to the next ending.
HANDOVER_EVENTS = ("handoff", "handback", "resolved", "reopened")
ENDINGS = ("handback", "resolved")
COLUMNS = ("handoff_id", "conversation_id", "channel", "conversation_started", "handed_over_at", "reason",
           "intent", "first_reply_at", "first_reply_by", "ended_at", "ended_kind", "ended_by")
# What can change in a hand-over's facts after it is first written.
CHANGING = ("intent", "first_reply_at", "first_reply_by", "ended_at", "ended_kind", "ended_by")


def facts_of(conversations) -> Select:
    """The facts of every hand-over of the conversations matching `conversations` (a
    condition on `conversation_events.conversation_id`), one row each, columns in COLUMNS'
    order.

    A person's part runs from a `handoff` event to the next `handback` or `resolved` event
    of the conversation (the next of these events: a conversation is handed over only by
    the bot, so never twice in a row), a resolution taken back by a `reopened` event not
    counting: a reopened conversation is resolved once, when it is resolved for good, so
    the reports count it once, with the time to that last resolution; its first reply is the first agent message at or
    after the hand-over and not after that end; its intent is the model's reading of the
    customer's last message at or before the hand-over.

    Joins and window functions, so the work grows with the rows read (one pass over each)
    rather than with index look-ups per hand-over."""
    event, agent, customer = ConversationEvent, aliased(Message), aliased(Message)
    marked = (select(event.id, event.conversation_id, event.kind, event.created_at,
                     event.data["reason"].as_string().label("reason"), event.data["by"].as_string().label("by"),
                     func.lead(event.kind).over(partition_by=event.conversation_id, order_by=event.id)
                     .label("following"))
              .where(event.kind.in_(HANDOVER_EVENTS), conversations)
              .cte("handover_marked"))
    taken_back = and_(marked.c.kind == "resolved", func.coalesce(marked.c.following, "") == "reopened")
    by_conversation = {"partition_by": marked.c.conversation_id, "order_by": marked.c.id}
    events = (select(marked.c.id, marked.c.conversation_id, marked.c.kind, marked.c.created_at,
                     Conversation.created_at.label("started"), Conversation.channel, marked.c.reason,
                     func.lead(marked.c.kind).over(**by_conversation).label("next_kind"),
                     func.lead(marked.c.created_at, type_=event.created_at.type).over(**by_conversation)
                     .label("next_at"),
                     func.lead(marked.c.by).over(**by_conversation).label("next_by"))
              .join(Conversation, Conversation.id == marked.c.conversation_id)
              .where(marked.c.kind != "reopened", ~taken_back)
              .cte("handover_events"))
    parts = select(events).where(events.c.kind == "handoff").cte("handover_parts")
    replies = (select(parts.c.id, agent.created_at, agent.agent_name,
                      func.row_number().over(partition_by=parts.c.id, order_by=agent.created_at).label("n"))
               .join(agent, and_(agent.conversation_id == parts.c.conversation_id, agent.author == "agent",
                                 agent.created_at >= parts.c.created_at,
                                 or_(parts.c.next_at.is_(None), agent.created_at <= parts.c.next_at)))
               .cte("handover_replies"))
    triggers = (select(parts.c.id, customer.intent,
                       func.row_number().over(partition_by=parts.c.id,
                                              order_by=customer.created_at.desc()).label("n"))
                .join(customer, and_(customer.conversation_id == parts.c.conversation_id,
                                     customer.author == "customer", customer.created_at <= parts.c.created_at))
                .cte("handover_triggers"))
    first_reply = select(replies).where(replies.c.n == 1).subquery()
    trigger = select(triggers).where(triggers.c.n == 1).subquery()
    ended = parts.c.next_kind.in_(ENDINGS)
    return (select(parts.c.id, parts.c.conversation_id, parts.c.channel, parts.c.started, parts.c.created_at,
                   parts.c.reason, trigger.c.intent, first_reply.c.created_at, first_reply.c.agent_name,
                   case((ended, parts.c.next_at)), case((ended, parts.c.next_kind)), case((ended, parts.c.next_by)))
            .outerjoin(first_reply, first_reply.c.id == parts.c.id)
            .outerjoin(trigger, trigger.c.id == parts.c.id)
            # SQLite reads "ON CONFLICT" after a join as the join's ON without a WHERE between.
            .where(true()))


def _upsert(dialect_name: str, conversations):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = ReportHandover.__table__
    insert = dialect.insert(table).from_select(COLUMNS, facts_of(conversations))
    # An upsert, not delete-and-insert: two transactions writing to one conversation at
    # once (a reply and a resolution) must not both insert the same hand-over.
    return insert.on_conflict_do_update(index_elements=[table.c.handoff_id],
                                        set_={name: insert.excluded[name] for name in CHANGING})


# One statement per dialect, made once: building and compiling it costs more than running
# it for one conversation, and it runs on every agent's reply.
_ONE_CONVERSATION: dict[str, object] = {}


async def refresh(session: AsyncSession, conversation_id: int) -> None:
    """Work out one conversation's hand-over facts again, in the caller's transaction, after
    it wrote one of their events or an agent's message (flushed first, so they are read)."""
    await session.flush()
    dialect = session.bind.dialect.name
    if dialect not in _ONE_CONVERSATION:
        _ONE_CONVERSATION[dialect] = _upsert(dialect, ConversationEvent.conversation_id == bindparam("conversation"))
    await session.execute(_ONE_CONVERSATION[dialect], {"conversation": conversation_id})


def fill(connection, batch: int = 10_000) -> None:
    """Every hand-over's facts from the history, in batches of `batch` conversations (a sync
    connection: the migration's). Rows already there are brought up to date."""
    last = connection.execute(select(func.max(Conversation.id))).scalar() or 0
    for first in range(1, last + 1, batch):
        connection.execute(_upsert(connection.dialect.name, ConversationEvent.conversation_id.between(
            first, first + batch - 1)))
