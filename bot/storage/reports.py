"""The reports' queries: facts of the conversations started in a period, read with the
indexes of migration 0005. The figures are made from them in bot/reports.py.

Each query returns what the figures need and no more: counts where a count will do
(conversations per quarter hour, customers' messages), one row per hand-over where the
figures need times (hand-over, first reply, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, cast, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import Integer

from bot.storage.models import Conversation, ConversationEvent, Customer, Message, Satisfaction

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


@dataclass(frozen=True)
class HandoverRow:
    conversation_id: int
    conversation_started: datetime
    handed_over_at: datetime
    reason: str | None
    # The intent of the customer's last message at the hand-over (None: the model did not read it).
    intent: str | None
    first_reply_at: datetime | None
    first_reply_by: str | None
    # The handback or resolution that ended the person's part, if any yet.
    ended_at: datetime | None
    ended_by_kind: str | None
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


def _in_scope(scope: Scope, conversations=Conversation):
    conditions = [conversations.created_at >= scope.start, conversations.created_at < scope.end]
    if scope.channel:
        conditions.append(conversations.channel == scope.channel)
    return and_(*conditions)


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
    """Every hand-over of a conversation in scope, with its first agent reply and its end.

    A person's part runs from a `handoff` event to the next `handback` or `resolved` event
    of the conversation; its first reply is the first agent message at or after the
    hand-over and not after that end."""
    handoff, ending, reply = ConversationEvent, aliased(ConversationEvent), aliased(Message)
    trigger = aliased(Message)
    ended_id = (select(func.min(ending.id))
                .where(ending.conversation_id == handoff.conversation_id, ending.id > handoff.id,
                       ending.kind.in_(("handback", "resolved")))
                .correlate(handoff).scalar_subquery())
    intent = (select(trigger.intent)
              .where(trigger.conversation_id == handoff.conversation_id, trigger.author == "customer",
                     trigger.created_at <= handoff.created_at)
              .order_by(trigger.id.desc()).limit(1).correlate(handoff).scalar_subquery())
    parts = (select(handoff.id.label("handoff_id"), handoff.conversation_id,
                    Conversation.created_at.label("started"), handoff.created_at.label("handed_over_at"),
                    handoff.data["reason"].as_string().label("reason"), intent.label("intent"),
                    ended_id.label("ended_id"))
             .join(Conversation, Conversation.id == handoff.conversation_id)
             .where(handoff.kind == "handoff", handoff.created_at >= scope.start, _in_scope(scope))
             .subquery())
    ended = aliased(ConversationEvent)
    first_reply_id = (select(func.min(reply.id))
                      .where(reply.conversation_id == parts.c.conversation_id, reply.author == "agent",
                             reply.created_at >= parts.c.handed_over_at,
                             or_(ended.created_at.is_(None), reply.created_at <= ended.created_at))
                      .scalar_subquery())
    with_reply = (select(parts, ended.created_at.label("ended_at"), ended.kind.label("ended_kind"),
                         ended.data["by"].as_string().label("ended_by"), first_reply_id.label("reply_id"))
                  .outerjoin(ended, ended.id == parts.c.ended_id).subquery())
    first = aliased(Message)
    rows = await session.execute(
        select(with_reply.c.conversation_id, with_reply.c.started, with_reply.c.handed_over_at,
               with_reply.c.reason, with_reply.c.intent, first.created_at, first.agent_name,
               with_reply.c.ended_at, with_reply.c.ended_kind, with_reply.c.ended_by)
        .outerjoin(first, first.id == with_reply.c.reply_id)
        .order_by(with_reply.c.handoff_id))
    return [HandoverRow(*row) for row in rows.all()]


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

