"""Queries of the human queue: conversations waiting for, or owned by, an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, bindparam, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff import check_transition
from bot.storage.history import add_event, add_events
from bot.storage.models import Conversation, Customer, Message


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: int
    channel: str
    customer: str
    # The platform's id of the customer (the name above is for people, this is for tools).
    customer_id: str
    status: str
    reason: str | None
    priority: int
    is_public: bool
    sentiment: float | None
    queued_at: datetime | None
    assigned_agent: str | None
    last_message: str
    # Set when the customer writes in another language than the bot's (bot/language.py).
    language: str | None = None


async def hand_to_queue(session: AsyncSession, conversation: Conversation, reason: str, priority: int,
                        now: datetime) -> None:
    check_transition(conversation.status, "queued")
    conversation.status = "queued"
    conversation.handoff_reason = reason
    conversation.priority = max(priority, conversation.priority or 0)
    conversation.queued_at = now
    conversation.updated_at = now
    await add_event(session, conversation.id, "handoff", {"reason": reason, "priority": priority}, now)


async def hand_back(session: AsyncSession, conversation_id: int, by: str, now: datetime) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise LookupError(f"no conversation {conversation_id}")
    check_transition(conversation.status, "bot")
    conversation.status = "bot"
    conversation.assigned_agent = None
    conversation.queued_at = None
    conversation.handoff_reason = None
    conversation.priority = 0
    conversation.updated_at = now
    await add_event(session, conversation.id, "handback", {"by": by}, now)
    return conversation


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: what a console shows, however long the queue is."""

    waiting: list[QueueEntry]
    waiting_total: int
    mine: list[QueueEntry]
    others: list[QueueEntry]
    others_total: int


def _entries_query():
    last_message_id = (
        select(func.max(Message.id)).where(Message.conversation_id == Conversation.id, Message.direction == "in")
        .correlate(Conversation).scalar_subquery()
    )
    return (select(Conversation, Customer, Message.text)
            .join(Customer, Customer.id == Conversation.customer_id)
            .outerjoin(Message, Message.id == last_message_id))


def aged_priority_sql(dialect: str, now: datetime):
    """bot/handoff.py's aged_priority in SQL (+1 a minute waited, up to +60), so that the
    database pages the queue in the order the console shows it."""
    at = literal(now, Conversation.queued_at.type)
    since = func.coalesce(Conversation.queued_at, at)
    if dialect == "postgresql":
        minutes = func.floor(func.extract("epoch", at - since) / 60)
        return Conversation.priority + func.least(func.greatest(minutes, 0), 60)
    minutes = cast((func.julianday(at) - func.julianday(since)) * 1440, Integer)
    return Conversation.priority + func.min(func.max(minutes, 0), 60)


async def queue_page(session: AsyncSession, agent: str, now: datetime, limit: int, offset: int = 0) -> QueuePage:
    """The `limit` most urgent waiting conversations from `offset`, the agent's own, and
    colleagues' (at most `limit` of each), with the totals."""
    aged = aged_priority_sql(session.bind.dialect.name, now)
    waiting_rows = await session.execute(
        _entries_query().where(Conversation.status == "queued")
        .order_by(aged.desc(), Conversation.queued_at.asc(), Conversation.id.asc()).limit(limit).offset(offset))
    owned_rows = await session.execute(
        _entries_query().where(Conversation.status == "assigned")
        .order_by((Conversation.assigned_agent == agent).desc(), Conversation.priority.desc(),
                  Conversation.assigned_at.asc(), Conversation.id.asc()).limit(2 * limit))
    counts = dict((await session.execute(
        select(Conversation.status, func.count()).where(Conversation.status.in_(("queued", "assigned")))
        .group_by(Conversation.status))).all())
    owned = _entries(owned_rows)
    mine = [e for e in owned if e.assigned_agent == agent][:limit]
    others = [e for e in owned if e.assigned_agent != agent][:limit]
    mine_total = len(mine) if len(mine) < limit else (await session.execute(
        select(func.count()).where(Conversation.status == "assigned", Conversation.assigned_agent == agent)
    )).scalar_one()
    return QueuePage(waiting=_entries(waiting_rows), waiting_total=counts.get("queued", 0), mine=mine,
                     others=others, others_total=counts.get("assigned", 0) - mine_total)


async def waiting(session: AsyncSession, statuses: tuple[str, ...] = ("queued", "assigned")) -> list[QueueEntry]:
    """The whole queue (the operators' CLI); the console pages it with `queue_page`."""
    return _entries(await session.execute(
        _entries_query().where(Conversation.status.in_(statuses))
        .order_by(Conversation.priority.desc(), Conversation.queued_at.asc(), Conversation.id.asc())))


def _entries(rows) -> list[QueueEntry]:
    return [
        QueueEntry(
            conversation_id=conv.id, channel=conv.channel,
            customer=customer.display_name or customer.external_id, customer_id=customer.external_id,
            status=conv.status,
            reason=conv.handoff_reason, priority=conv.priority, is_public=conv.is_public,
            sentiment=conv.sentiment, queued_at=conv.queued_at, assigned_agent=conv.assigned_agent,
            last_message=text or "", language=conv.language,
        )
        for conv, customer, text in rows.all()
    ]


async def claim_next_waiting(session: AsyncSession, agent: str, now: datetime) -> int | None:
    """Give `agent` the most urgent waiting conversation ("take next"), atomically; its id.

    On PostgreSQL it is one statement: the candidate row is locked with SKIP LOCKED, so
    agents taking at the same moment get different conversations instead of queueing
    behind one another. SQLite serialises writers, so a read and a conditional update do.
    """
    values = {"agent": agent, "now": now}
    conversation_id = None
    if session.bind.dialect.name == "postgresql":
        conversation_id = (await session.execute(_TAKE_NEXT_LOCKED, values)).scalar_one_or_none()
    else:
        for _ in range(3):
            candidate = (await session.execute(_NEXT_WAITING)).scalar_one_or_none()
            if candidate is None:
                break
            if (await session.execute(_TAKE_IF_WAITING, {**values, "candidate": candidate})).rowcount == 1:
                conversation_id = candidate
                break
    if conversation_id is not None:
        await add_events(session, conversation_id, [("claimed", {"agent": agent})], now)
    return conversation_id


def _take_next_statements():
    """Built once, values as parameters: building them on every claim made SQLAlchemy
    compute each one's cache key, which cost more than running it."""
    conversations = Conversation.__table__
    next_waiting = (select(conversations.c.id).where(conversations.c.status == "queued")
                    .order_by(conversations.c.priority.desc(), conversations.c.queued_at.asc(),
                              conversations.c.id.asc())
                    .limit(1))
    now = bindparam("now", type_=conversations.c.assigned_at.type)
    assign = dict(status="assigned", assigned_agent=bindparam("agent"), assigned_at=now, updated_at=now)
    take_locked = (conversations.update()
                   .where(conversations.c.id == next_waiting.with_for_update(skip_locked=True).scalar_subquery())
                   .values(**assign).returning(conversations.c.id))
    take_if_waiting = (conversations.update()
                       .where(conversations.c.id == bindparam("candidate"), conversations.c.status == "queued")
                       .values(**assign))
    return next_waiting, take_locked, take_if_waiting


_NEXT_WAITING, _TAKE_NEXT_LOCKED, _TAKE_IF_WAITING = _take_next_statements()


class ClaimLost(Exception):
    """Someone else owns the conversation now (or it left the queue)."""

    def __init__(self, owner: str | None, status: str) -> None:
        super().__init__(f"already taken by {owner}" if owner else f"the conversation is {status}, not waiting")
        self.owner = owner
        self.status = status


async def claim(session: AsyncSession, conversation_id: int, agent: str, now: datetime) -> Conversation:
    """Give one waiting conversation to `agent`, atomically: of agents claiming it at the
    same moment exactly one wins; the others get ClaimLost naming the winner.

    One conditional UPDATE on both backends: the row count says who won (PostgreSQL's
    row lock makes the second UPDATE re-check `status` after the first commits).
    """
    from sqlalchemy import update

    taken = await session.execute(
        update(Conversation).where(Conversation.id == conversation_id, Conversation.status == "queued")
        .values(status="assigned", assigned_agent=agent, assigned_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise LookupError(f"no conversation {conversation_id}")
    if taken.rowcount != 1:
        raise ClaimLost(conversation.assigned_agent, conversation.status)
    waited = (now - conversation.queued_at).total_seconds() if conversation.queued_at else None
    await add_event(session, conversation_id, "claimed", {"agent": agent, "waited_seconds": waited}, now)
    return conversation


async def owned(session: AsyncSession, conversation_id: int, *, lock: bool = True) -> Conversation:
    query = select(Conversation).where(Conversation.id == conversation_id).execution_options(populate_existing=True)
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    conversation = (await session.execute(query)).scalar_one_or_none()
    if conversation is None:
        raise LookupError(f"no conversation {conversation_id}")
    return conversation


async def transfer(session: AsyncSession, conversation_id: int, to_agent: str, by: str, now: datetime) -> Conversation:
    """Hand a conversation to another agent (a colleague, or a supervisor's reassignment)."""
    conversation = await owned(session, conversation_id)
    check_transition(conversation.status, "assigned")
    previous = conversation.assigned_agent
    conversation.status, conversation.assigned_agent = "assigned", to_agent
    conversation.assigned_at = conversation.updated_at = now
    await add_event(session, conversation_id, "transferred", {"from": previous, "to": to_agent, "by": by}, now)
    return conversation


async def close(session: AsyncSession, conversation_id: int, by: str, now: datetime,
                ask_satisfaction: bool = False) -> Conversation:
    conversation = await owned(session, conversation_id)
    check_transition(conversation.status, "closed")
    conversation.status, conversation.closed_at, conversation.updated_at = "closed", now, now
    await add_event(session, conversation_id, "resolved", {"by": by, "ask_satisfaction": ask_satisfaction}, now)
    return conversation


class Superseded(Exception):
    """The customer has begun a newer conversation since: that one is where to go on."""

    def __init__(self, newer_id: int) -> None:
        super().__init__(f"the customer has started a newer conversation since (#{newer_id}): continue there")
        self.newer_id = newer_id


async def reopen(session: AsyncSession, conversation_id: int, by: str, now: datetime) -> Conversation:
    """Put a resolved conversation back in `by`'s hands, so they can write to the customer again.

    Only the customer's latest conversation: their messages go to their newest open one, so
    reopening an older one would leave the agent writing where the customer's answers
    never arrive."""
    conversation = await owned(session, conversation_id)
    check_transition(conversation.status, "assigned")
    newer = (await session.execute(
        select(func.max(Conversation.id)).where(Conversation.customer_id == conversation.customer_id,
                                                Conversation.id > conversation.id))).scalar_one_or_none()
    if newer is not None:
        raise Superseded(newer)
    previous = conversation.assigned_agent
    conversation.status, conversation.assigned_agent = "assigned", by
    conversation.assigned_at = conversation.updated_at = now
    conversation.closed_at = None
    await add_event(session, conversation_id, "reopened", {"by": by, "previous_agent": previous}, now)
    return conversation
