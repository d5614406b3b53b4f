"""Queries of the agent console: a conversation's full record, notes, canned responses,
satisfaction, agents' load and recent waits."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    Agent,
    CannedResponse,
    Conversation,
    ConversationEvent,
    Customer,
    Message,
    Note,
    Satisfaction,
)


@dataclass(frozen=True)
class ConversationRecord:
    conversation: Conversation
    customer: Customer
    messages: list[Message]
    events: list[ConversationEvent]
    notes: list[Note]
    earlier: list[Conversation]
    satisfaction: Satisfaction | None


async def conversation_record(session: AsyncSession, conversation_id: int) -> ConversationRecord | None:
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        return None
    customer = await session.get(Customer, conversation.customer_id)
    messages = list((await session.execute(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))).scalars())
    events = list((await session.execute(
        select(ConversationEvent).where(ConversationEvent.conversation_id == conversation_id)
        .order_by(ConversationEvent.id))).scalars())
    notes = list((await session.execute(
        select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id))).scalars())
    earlier = list((await session.execute(
        select(Conversation).where(Conversation.customer_id == conversation.customer_id,
                                   Conversation.id != conversation_id)
        .order_by(Conversation.id.desc()).limit(20))).scalars())
    satisfaction = (await session.execute(
        select(Satisfaction).where(Satisfaction.conversation_id == conversation_id))).scalar_one_or_none()
    return ConversationRecord(conversation, customer, messages, events, notes, earlier, satisfaction)


async def add_note(session: AsyncSession, conversation_id: int, author: str, text: str, now: datetime) -> Note:
    note = Note(conversation_id=conversation_id, author=author, text=text, created_at=now)
    session.add(note)
    await session.flush()
    return note


async def canned_responses(session: AsyncSession) -> list[CannedResponse]:
    return list((await session.execute(select(CannedResponse).order_by(CannedResponse.shortcut))).scalars())


async def save_canned(session: AsyncSession, shortcut: str, text: str, by: str, now: datetime) -> CannedResponse:
    existing = (await session.execute(
        select(CannedResponse).where(CannedResponse.shortcut == shortcut))).scalar_one_or_none()
    if existing is not None:
        existing.text = text
        return existing
    canned = CannedResponse(shortcut=shortcut, text=text, created_by=by, created_at=now)
    session.add(canned)
    await session.flush()
    return canned


async def seed_canned(session: AsyncSession, items: Iterable[tuple[str, str]], by: str, now: datetime) -> int:
    """Fill an empty canned-response list with `items`; a list with anything in it is left
    alone (a brand's own, or the demo's as supervisors changed it). How many were added."""
    if (await session.execute(select(CannedResponse.id).limit(1))).first() is not None:
        return 0
    rows = [CannedResponse(shortcut=shortcut, text=text, created_by=by, created_at=now) for shortcut, text in items]
    session.add_all(rows)
    await session.flush()
    return len(rows)


async def delete_canned(session: AsyncSession, canned_id: int) -> bool:
    result = await session.execute(delete(CannedResponse).where(CannedResponse.id == canned_id))
    return (result.rowcount or 0) > 0


@dataclass(frozen=True)
class AgentLoad:
    name: str
    role: str
    active: bool
    assigned: int
    last_login_at: datetime | None
    display_name: str | None = None


async def agents_load(session: AsyncSession) -> list[AgentLoad]:
    counts = dict((await session.execute(
        select(Conversation.assigned_agent, func.count())
        .where(Conversation.status == "assigned").group_by(Conversation.assigned_agent))).all())
    agents = (await session.execute(select(Agent).order_by(Agent.name))).scalars()
    return [AgentLoad(a.name, a.role, a.active, counts.get(a.name, 0), a.last_login_at, a.display_name)
            for a in agents]


async def agent_names(session: AsyncSession, roles: frozenset[str]) -> list[str]:
    return list((await session.execute(
        select(Agent.name).where(Agent.role.in_(roles), Agent.active.is_(True)).order_by(Agent.name))).scalars())


async def median_recent_wait(session: AsyncSession, limit: int = 50) -> float | None:
    """Median seconds from hand-over to an agent's claim, over the latest claims."""
    rows = (await session.execute(
        select(ConversationEvent.data).where(ConversationEvent.kind == "claimed")
        .order_by(ConversationEvent.id.desc()).limit(limit))).scalars()
    waits = [d["waited_seconds"] for d in rows if isinstance((d or {}).get("waited_seconds"), (int, float))]
    return statistics.median(waits) if waits else None


# The events that say whether a satisfaction question is open: asked opens it; an answer,
# or the conversation being reopened (the agent took the customer back), closes it.
RATING_MARKERS = ("satisfaction_asked", "satisfaction", "reopened")


async def awaiting_rating(session: AsyncSession, customer_id: int) -> Conversation | None:
    """The customer's latest conversation, when it was resolved with a satisfaction
    question that is not answered yet, and not withdrawn by a reopening since."""
    latest = (await session.execute(
        select(Conversation).where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc()).limit(1))).scalar_one_or_none()
    if latest is None or latest.status != "closed":
        return None
    last_marker = (await session.execute(
        select(ConversationEvent.kind, ConversationEvent.created_at)
        .where(ConversationEvent.conversation_id == latest.id, ConversationEvent.kind.in_(RATING_MARKERS))
        .order_by(ConversationEvent.id.desc()).limit(1))).first()
    if last_marker is None or last_marker.kind != "satisfaction_asked":
        return None
    # A rating recorded since the question answers it (a rating from before a reopening
    # does not: the conversation was asked again).
    answered = (await session.execute(
        select(Satisfaction.id).where(Satisfaction.conversation_id == latest.id,
                                      Satisfaction.created_at >= last_marker.created_at))).scalar_one_or_none()
    return None if answered is not None else latest


async def record_satisfaction(session: AsyncSession, conversation: Conversation, score: int,
                              now: datetime) -> Satisfaction:
    """The customer's rating of a conversation: one per conversation, so one that was
    reopened, resolved and asked again keeps the latest answer (the history keeps both
    `satisfaction` events), and the reports count the conversation once."""
    rating = (await session.execute(
        select(Satisfaction).where(Satisfaction.conversation_id == conversation.id))).scalar_one_or_none()
    if rating is None:
        rating = Satisfaction(conversation_id=conversation.id)
        session.add(rating)
    rating.score, rating.agent_name, rating.created_at = score, conversation.assigned_agent, now
    await session.flush()
    return rating


async def handled_by(session: AsyncSession, conversation: Conversation, agent: str) -> bool:
    """Whether `agent` had this conversation last or wrote to its customer in it."""
    if conversation.assigned_agent == agent:
        return True
    wrote = (await session.execute(
        select(Message.id).where(Message.conversation_id == conversation.id, Message.author == "agent",
                                 Message.agent_name == agent).limit(1))).scalar_one_or_none()
    return wrote is not None


async def earlier_contacts(session: AsyncSession, conversation: Conversation, now: datetime,
                           days: int = 30) -> int:
    """How many other conversations the customer started lately: a customer who keeps
    coming back is not being helped (bot/handoff.py raises their priority)."""
    from datetime import timedelta

    return (await session.execute(
        select(func.count()).select_from(Conversation)
        .where(Conversation.customer_id == conversation.customer_id, Conversation.id != conversation.id,
               Conversation.created_at >= now - timedelta(days=days)))).scalar_one()
