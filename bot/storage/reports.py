"""The reports' queries: facts of the conversations started in a period, read with the
indexes of migration 0006. The figures are made from them in bot/reports.py. They only
read: the hand-overs' facts are kept by the service as it writes the history
(bot/storage/handover_facts.py).

Each query returns what the figures need and no more: counts where a count will do
(conversations per quarter hour, customers' messages, ratings by agent and score), one
row per hand-over where the figures need times (hand-over, first reply, end).
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
from sqlalchemy.types import Integer

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
class Ratings:
    """How many ratings of one score an agent had, and how many of them answered the
    question the agent asked when resolving (the others came unasked)."""

    agent: str | None
    score: int
    count: int
    answered: int


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncSession]:
    """A read-only transaction for one of the queries below. On PostgreSQL without JIT
    compilation: the planner's estimate of these queries' cost calls for it, and compiling
    took seconds where running them takes a fraction of one."""
    async with db.session() as session:
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SET LOCAL jit = off"))
            await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        yield session


def _in_scope(scope: Scope, conversations=Conversation):
    conditions = [conversations.created_at >= scope.start, conversations.created_at < scope.end]
    if scope.channel:
        conditions.append(conversations.channel == scope.channel)
    return and_(*conditions)


def _epoch_function(session: AsyncSession):
    """Seconds since 1970 of a datetime column, as a float, made by the database."""
    if session.bind.dialect.name == "postgresql":
        # date_part, not extract: a double, where extract makes a numeric, several times slower.
        return lambda column: func.date_part(literal_column("'epoch'"), column)
    # SQLite keeps UTC datetimes as text; julianday reads them to about a millisecond.
    return lambda column: func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)


def _epoch_bucket(session: AsyncSession, column):
    # The width is written into the SQL, not bound: PostgreSQL must see the grouped
    # expression and the selected one as the same.
    width = literal_column(str(BUCKET_SECONDS))
    if session.bind.dialect.name == "postgresql":
        return cast(func.floor(func.date_part(literal_column("'epoch'"), column) / width), Integer)
    # SQLite keeps UTC datetimes as text; strftime('%s') reads them as seconds since 1970.
    return cast(func.strftime("%s", column), Integer) / width


async def conversations_per_bucket(session: AsyncSession, scope: Scope) -> list[tuple[int, int]]:
    """(quarter hour since 1970 in UTC, conversations started in it)."""
    bucket = _epoch_bucket(session, Conversation.created_at).label("bucket")
    rows = await session.execute(
        select(bucket, func.count()).where(_in_scope(scope)).group_by(bucket).order_by(bucket))
    return [(int(b), int(n)) for b, n in rows.all()]


async def handovers(session: AsyncSession, scope: Scope) -> list[HandoverRow]:
    """Every hand-over of a conversation in scope, from `report_handovers` (kept up to date
    where the history is written: bot/storage/handover_facts.py). Read only."""
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


async def conversations_asked_to_rate(session: AsyncSession, scope: Scope) -> int:
    rows = await session.execute(
        select(func.count(ConversationEvent.conversation_id.distinct()))
        .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
        .where(_asked(scope), _in_scope(scope)))
    return int(rows.scalar_one())


def _asked(scope: Scope):
    # Asked after the conversation started: the bound lets the index on (kind, created_at) serve.
    return and_(ConversationEvent.kind == "satisfaction_asked", ConversationEvent.created_at >= scope.start)


async def ratings(session: AsyncSession, scope: Scope) -> list[Ratings]:
    """The ratings of the conversations in scope counted by agent and score, in SQL: a
    report needs their counts, not thousands of rows."""
    asked = (select(ConversationEvent.id)
             .where(ConversationEvent.conversation_id == Satisfaction.conversation_id, _asked(scope)).exists())
    rows = await session.execute(
        select(Satisfaction.agent_name, Satisfaction.score, func.count(), func.coalesce(func.sum(_flag(asked)), 0))
        .join(Conversation, Conversation.id == Satisfaction.conversation_id).where(_in_scope(scope))
        .group_by(Satisfaction.agent_name, Satisfaction.score)
        .order_by(Satisfaction.agent_name, Satisfaction.score))
    return [Ratings(agent, int(score), int(count), int(answered)) for agent, score, count, answered in rows.all()]


async def conversations_replied_per_agent(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """How many conversations in scope each agent wrote at least one reply in."""
    # The pairs first, then counted: count(DISTINCT) sorts every reply, a hashed DISTINCT does not.
    pairs = (select(Message.agent_name, Message.conversation_id)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .where(Message.author == "agent", Message.created_at >= scope.start, _in_scope(scope))
             .distinct().subquery())
    rows = await session.execute(select(pairs.c.agent_name, func.count()).group_by(pairs.c.agent_name))
    return {name or "?": int(count) for name, count in rows.all()}


async def channels(session: AsyncSession) -> list[str]:
    return sorted((await session.execute(select(Customer.channel).distinct())).scalars())

