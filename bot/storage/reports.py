"""The reports' queries: facts of the conversations started in a period, read with the
indexes of migration 0005. The figures are made from them in bot/reports.py.

Each query returns what the figures need and no more: counts where a count will do
(conversations per quarter hour, customers' messages), one row per hand-over where the
figures need times (hand-over, first reply, end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime

from sqlalchemy import and_, case, cast, func, literal_column, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import Float, Integer

from bot.storage.database import Database
from bot.storage.models import Conversation, ConversationEvent, Customer, Message, ReportHandover, Satisfaction

FALLBACK_INTENT = "nlu_fallback"
# Conversations are counted per quarter hour of UTC, then put in the report's time zone's
# hours and days: every time zone's offset is a whole number of quarter hours.
BUCKET_SECONDS = 900


@dataclass(frozen=True)
class Scope:
    """Conversations started in [start, end), of one channel or all."""

    start: datetime
    end: datetime
    channel: str | None = None


class HandoverRow(NamedTuple):
    """One hand-over; moments in seconds since 1970 (UTC). A tuple, and moments as floats:
    a report reads tens of thousands of these, and made as frozen dataclasses of datetimes
    they cost most of its time."""

    conversation_id: int
    conversation_started: float
    handed_over_at: float
    reason: str | None
    # The intent of the customer's last message at the hand-over (None: the model did not read it).
    intent: str | None
    first_reply_at: float | None
    first_reply_by: str | None
    # The handback or resolution that ended the person's part, if any yet.
    ended_at: float | None
    ended_kind: str | None
    ended_by: str | None


@dataclass(frozen=True)
class MessageCounts:
    customer: int
    read_by_model: int
    fallback: int
    low_confidence: int


@dataclass(frozen=True)
class Rating:
    conversation_id: int
    score: int
    agent: str | None


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncSession]:
    """A read-only transaction for one of the queries below. On PostgreSQL without JIT
    compilation: the planner's estimate of these queries' cost calls for it, and compiling
    took seconds where running them takes a fraction of one."""
    async with db.session() as session:
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SET LOCAL jit = off"))
        yield session


def _in_scope(scope: Scope, conversations=Conversation):
    conditions = [conversations.created_at >= scope.start, conversations.created_at < scope.end]
    if scope.channel:
        conditions.append(conversations.channel == scope.channel)
    return and_(*conditions)


def _epoch_function(session: AsyncSession):
    """Seconds since 1970 of a datetime column, as a float, made by the database."""
    if session.bind.dialect.name == "postgresql":
        return lambda column: cast(func.extract("epoch", column), Float)
    # SQLite keeps UTC datetimes as text; julianday reads them to about a millisecond.
    return lambda column: func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)


def _epoch_bucket(session: AsyncSession, column):
    # The width is written into the SQL, not bound: PostgreSQL must see the grouped
    # expression and the selected one as the same.
    width = literal_column(str(BUCKET_SECONDS))
    if session.bind.dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / width), Integer)
    # SQLite keeps UTC datetimes as text; strftime('%s') reads them as seconds since 1970.
    return cast(func.strftime("%s", column), Integer) / width


async def conversations_per_bucket(session: AsyncSession, scope: Scope) -> list[tuple[int, int]]:
    """(quarter hour since 1970 in UTC, conversations started in it)."""
    bucket = _epoch_bucket(session, Conversation.created_at).label("bucket")
    rows = await session.execute(
        select(bucket, func.count()).where(_in_scope(scope)).group_by(bucket).order_by(bucket))
    return [(int(b), int(n)) for b, n in rows.all()]


async def handovers(session: AsyncSession, scope: Scope) -> list[HandoverRow]:
    """Every hand-over of a conversation in scope, from `report_handovers`, brought up to
    date first: the hand-overs it lacks, and those whose person's part has not ended yet
    (their reply or end may have come since), are worked out from the history again."""
    await _bring_up_to_date(session, scope)
    # The table's own columns, not the mapped class's: tens of thousands of rows through
    # the ORM's loading cost over a second, through Core a fraction of that.
    facts = ReportHandover.__table__.c
    epoch = _epoch_function(session)
    query = (select(facts.conversation_id, epoch(facts.conversation_started), epoch(facts.handed_over_at),
                    facts.reason, facts.intent, epoch(facts.first_reply_at), facts.first_reply_by,
                    epoch(facts.ended_at), facts.ended_kind, facts.ended_by)
             .where(facts.conversation_started >= scope.start, facts.conversation_started < scope.end)
             .order_by(facts.handoff_id))
    if scope.channel:
        query = query.where(facts.channel == scope.channel)
    return [HandoverRow._make(row) for row in (await session.execute(query)).all()]


async def _bring_up_to_date(session: AsyncSession, scope: Scope) -> None:
    facts = ReportHandover
    stale = (select(ConversationEvent.conversation_id)
             .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
             .outerjoin(facts, facts.handoff_id == ConversationEvent.id)
             .where(ConversationEvent.kind == "handoff", ConversationEvent.created_at >= scope.start,
                    _in_scope(scope), or_(facts.handoff_id.is_(None), facts.ended_at.is_(None))))
    rows = await _worked_out(session, scope, stale)
    if not rows:
        return
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    for first in range(0, len(rows), 2000):
        insert = dialect.insert(facts.__table__).values(rows[first:first + 2000])
        await session.execute(insert.on_conflict_do_update(
            index_elements=[facts.handoff_id],
            set_={name: insert.excluded[name] for name in ("first_reply_at", "first_reply_by", "ended_at",
                                                           "ended_kind", "ended_by", "intent", "reason")}))


async def _worked_out(session: AsyncSession, scope: Scope, conversations) -> list[dict]:
    """The facts of the hand-overs of `conversations` (a subquery of ids) in scope.

    A person's part runs from a `handoff` event to the next `handback` or `resolved` event
    of the conversation (the next of these events: a conversation is handed over only by
    the bot, so never twice in a row); its first reply is the first agent message at or
    after the hand-over and not after that end; its intent is the model's reading of the
    customer's last message at or before the hand-over.

    One statement of joins and window functions, so the work grows with the rows read
    (one pass over each) rather than with index look-ups per hand-over."""
    event, agent, customer = ConversationEvent, aliased(Message), aliased(Message)
    by_conversation = {"partition_by": event.conversation_id, "order_by": event.id}
    events = (select(event.id, event.conversation_id, event.kind, event.created_at,
                     Conversation.created_at.label("started"), Conversation.channel,
                     event.data["reason"].as_string().label("reason"),
                     func.lead(event.kind).over(**by_conversation).label("next_kind"),
                     func.lead(event.created_at, type_=event.created_at.type).over(**by_conversation).label("next_at"),
                     func.lead(event.data["by"].as_string()).over(**by_conversation).label("next_by"))
              .join(Conversation, Conversation.id == event.conversation_id)
              .where(event.kind.in_(("handoff", "handback", "resolved")), event.created_at >= scope.start,
                     _in_scope(scope), event.conversation_id.in_(conversations))
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
    rows = await session.execute(
        select(parts.c.id, parts.c.conversation_id, parts.c.channel, parts.c.started, parts.c.created_at,
               parts.c.reason, trigger.c.intent, first_reply.c.created_at.label("reply_at"),
               first_reply.c.agent_name, parts.c.next_at, parts.c.next_kind, parts.c.next_by)
        .outerjoin(first_reply, first_reply.c.id == parts.c.id)
        .outerjoin(trigger, trigger.c.id == parts.c.id)
        .order_by(parts.c.id))
    worked_out = []
    for row in rows.all():
        ended = row.next_kind in ("handback", "resolved")
        worked_out.append({
            "handoff_id": row.id, "conversation_id": row.conversation_id, "channel": row.channel,
            "conversation_started": row.started, "handed_over_at": row.created_at, "reason": row.reason,
            "intent": row.intent, "first_reply_at": row.reply_at, "first_reply_by": row.agent_name,
            "ended_at": row.next_at if ended else None, "ended_kind": row.next_kind if ended else None,
            "ended_by": row.next_by if ended else None})
    return worked_out


async def message_counts(session: AsyncSession, scope: Scope, low_confidence: float) -> MessageCounts:
    """Customers' messages written in [start, end) (of the channel's conversations)."""
    read = Message.intent.is_not(None)
    fallback = Message.intent == FALLBACK_INTENT
    low = or_(fallback, Message.confidence < low_confidence)
    query = select(func.count(), func.count(Message.intent),
                   func.coalesce(func.sum(_flag(fallback)), 0), func.coalesce(func.sum(_flag(and_(read, low))), 0)
                   ).where(*_customer_messages(scope))
    if scope.channel:
        query = query.join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.channel == scope.channel)
    customer, read_count, fallback_count, low_count = (await session.execute(query)).one()
    return MessageCounts(int(customer), int(read_count), int(fallback_count), int(low_count))


def _flag(condition):
    return case((condition, 1), else_=0)


def _customer_messages(scope: Scope) -> list:
    return [Message.author == "customer", Message.created_at >= scope.start, Message.created_at < scope.end]


async def low_confidence_texts(session: AsyncSession, scope: Scope, low_confidence: float,
                               limit: int = 200) -> list[tuple[str, int]]:
    """The most frequent texts (lower case) of customers' messages the model fell back on or
    was unsure of, with how often each was written."""
    key = func.lower(func.trim(Message.text))
    query = (select(key, func.count()).where(*_customer_messages(scope), Message.intent.is_not(None),
                                            or_(Message.intent == FALLBACK_INTENT,
                                                Message.confidence < low_confidence))
             .group_by(key).order_by(func.count().desc(), key).limit(limit))
    if scope.channel:
        query = query.join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.channel == scope.channel)
    return [(text, int(count)) for text, count in (await session.execute(query)).all()]


async def conversations_asked_to_rate(session: AsyncSession, scope: Scope) -> set[int]:
    rows = await session.execute(
        select(ConversationEvent.conversation_id.distinct())
        .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
        .where(ConversationEvent.kind == "satisfaction_asked", ConversationEvent.created_at >= scope.start,
               _in_scope(scope)))
    return set(rows.scalars())


async def ratings(session: AsyncSession, scope: Scope) -> list[Rating]:
    rows = await session.execute(
        select(Satisfaction.conversation_id, Satisfaction.score, Satisfaction.agent_name)
        .join(Conversation, Conversation.id == Satisfaction.conversation_id).where(_in_scope(scope))
        .order_by(Satisfaction.conversation_id))
    return [Rating(int(c), int(s), a) for c, s, a in rows.all()]


async def conversations_replied_per_agent(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """How many conversations in scope each agent wrote at least one reply in."""
    rows = await session.execute(
        select(Message.agent_name, func.count(Message.conversation_id.distinct()))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.author == "agent", Message.created_at >= scope.start, _in_scope(scope))
        .group_by(Message.agent_name))
    return {name or "?": int(count) for name, count in rows.all()}


async def channels(session: AsyncSession) -> list[str]:
    return sorted((await session.execute(select(Customer.channel).distinct())).scalars())

