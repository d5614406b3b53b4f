"""The review queue: customer messages the bot should learn from, grouped by similar text.

A message is up for review when the model was unsure of it (confidence under the review
threshold), fell back on it (`nlu_fallback`), handed its conversation to a person because
of it, or an agent flagged it. Flags and annotations are conversation events, so the
history stays the single record of what happened to a message.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.messages import utcnow
from bot.storage.history import add_event
from bot.storage.models import ConversationEvent, Message

FLAG = "flag_for_training"
ANNOTATED = "annotated"
# A trainer decided there is nothing to teach (spam, a typo, a one-off).
DISMISSED = "review_dismissed"
FALLBACK_INTENT = "nlu_fallback"
# The hand-overs that say the model lacks something: a question it could not place, a
# conversation it lost. The others (a person asked for, a complaint, a late order, upset
# words) went as they should: the model understood, nothing to teach. An unsure message
# is listed whatever happened to it.
TEACHABLE_HANDOFFS = frozenset({"out_of_scope", "repeated_misunderstanding"})
CONTEXT_LINES = 3
SIMILARITY = 0.75
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}’‘“”…]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ContextLine:
    author: str
    text: str


@dataclass(frozen=True)
class ReviewItem:
    message_id: int
    conversation_id: int
    text: str
    intent: str | None
    confidence: float | None
    reasons: tuple[str, ...]
    context: tuple[ContextLine, ...]
    created_at: datetime
    done: bool


@dataclass(frozen=True)
class ReviewGroup:
    key: str
    items: tuple[ReviewItem, ...]
    done: bool
    intents: tuple[tuple[str, int], ...] = field(default=())

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def text(self) -> str:
        return self.items[0].text


def normalise(text: str) -> str:
    """Lower case, no punctuation, single spaces: 'Do you sell GIFT cards??' → 'do you sell gift cards'."""
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", text.lower())).strip()


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the token sets of two normalised texts."""
    left, right = set(a.split()), set(b.split())
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def group(items: list[ReviewItem], threshold: float = SIMILARITY) -> list[ReviewGroup]:
    """Same normalised text, then greedily merged by token-set similarity; open and most
    frequent groups first."""
    exact: dict[str, list[ReviewItem]] = {}
    for item in items:
        exact.setdefault(normalise(item.text), []).append(item)
    clusters: list[tuple[str, list[ReviewItem]]] = []
    for key, members in sorted(exact.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        target = next((c for c in clusters if similarity(c[0], key) >= threshold), None)
        if target is None:
            clusters.append((key, list(members)))
        else:
            target[1].extend(members)
    groups = []
    for key, members in clusters:
        members.sort(key=lambda i: i.message_id, reverse=True)
        intents = Counter(i.intent or "?" for i in members).most_common()
        groups.append(ReviewGroup(key, tuple(members), all(i.done for i in members), tuple(intents)))
    groups.sort(key=lambda g: (g.done, -g.count, -max(i.message_id for i in g.items)))
    return groups


async def flag_message(session: AsyncSession, message_id: int, by: str, now: datetime | None = None) -> bool:
    """An agent marks a customer message as one the bot should have answered. False when it
    was flagged already (flagging twice changes nothing)."""
    message = await _customer_message(session, message_id)
    if message_id in await _event_message_ids(session, FLAG, [message.conversation_id]):
        return False
    await add_event(session, message.conversation_id, FLAG, {"message_id": message_id, "by": by}, now or utcnow())
    return True


async def mark_annotated(session: AsyncSession, message_id: int, intent: str, by: str,
                         now: datetime | None = None) -> Message:
    message = await _customer_message(session, message_id)
    await add_event(session, message.conversation_id, ANNOTATED,
                    {"message_id": message_id, "intent": intent, "by": by}, now or utcnow())
    return message


async def dismiss(session: AsyncSession, message_id: int, by: str, now: datetime | None = None) -> None:
    message = await _customer_message(session, message_id)
    await add_event(session, message.conversation_id, DISMISSED, {"message_id": message_id, "by": by}, now or utcnow())


async def customer_text(session: AsyncSession, message_id: int) -> str:
    return (await _customer_message(session, message_id)).text


async def review_items(session: AsyncSession, threshold: float, *, known_examples: frozenset[str] = frozenset(),
                       scan: int = 2000) -> list[ReviewItem]:
    """The latest `scan` messages up for review, newest first; `known_examples` are the
    normalised training examples: a message already taught counts as done."""
    reasons: dict[int, list[str]] = {}
    unsure = select(Message.id, Message.intent, Message.confidence).where(
        Message.author == "customer",
        or_(Message.intent == FALLBACK_INTENT, and_(Message.confidence.is_not(None), Message.confidence < threshold)),
    ).order_by(Message.id.desc()).limit(scan)
    for message_id, intent, confidence in await session.execute(unsure):
        reasons.setdefault(message_id, []).append(
            "fallback" if intent == FALLBACK_INTENT else f"low confidence ({confidence:.2f})")
    for message_id, reason in await _handoff_triggers(session, scan):
        if reason in TEACHABLE_HANDOFFS:
            reasons.setdefault(message_id, []).append(f"handed over ({reason})")
    for message_id in await _event_message_ids(session, FLAG):
        reasons.setdefault(message_id, []).append("flagged by an agent")
    if not reasons:
        return []
    ids = sorted(reasons, reverse=True)[:scan]
    annotated = await _event_message_ids(session, ANNOTATED) | await _event_message_ids(session, DISMISSED)
    messages = (await session.execute(select(Message).where(Message.id.in_(ids), Message.author == "customer")
                                      .order_by(Message.id.desc()))).scalars().all()
    items = []
    for message in messages:
        items.append(ReviewItem(
            message_id=message.id, conversation_id=message.conversation_id, text=message.text,
            intent=message.intent, confidence=message.confidence, reasons=tuple(dict.fromkeys(reasons[message.id])),
            context=await _context(session, message), created_at=message.created_at,
            done=message.id in annotated or normalise(message.text) in known_examples,
        ))
    return items


async def _handoff_triggers(session: AsyncSession, scan: int) -> list[tuple[int, str]]:
    """The message behind each hand-over: the worker records its `nlu` event just before
    the `handoff` event, in the same transaction."""
    nlu = aliased(ConversationEvent)
    trigger = (select(func.max(nlu.id)).where(nlu.conversation_id == ConversationEvent.conversation_id,
                                               nlu.kind == "nlu", nlu.id < ConversationEvent.id)
               .correlate(ConversationEvent).scalar_subquery())
    rows = (await session.execute(
        select(ConversationEvent.data, trigger).where(ConversationEvent.kind == "handoff")
        .order_by(ConversationEvent.id.desc()).limit(scan)
    )).all()
    nlu_ids = {row[1]: (row[0] or {}).get("reason") or "other" for row in rows if row[1] is not None}
    if not nlu_ids:
        return []
    events = (await session.execute(select(ConversationEvent.id, ConversationEvent.data)
                                    .where(ConversationEvent.id.in_(list(nlu_ids))))).all()
    return [(int(data["message_id"]), nlu_ids[event_id]) for event_id, data in events
            if (data or {}).get("message_id") is not None]


async def _event_message_ids(session: AsyncSession, kind: str, conversations: list[int] | None = None) -> set[int]:
    query = select(ConversationEvent.data).where(ConversationEvent.kind == kind)
    if conversations is not None:
        query = query.where(ConversationEvent.conversation_id.in_(conversations))
    return {int(data["message_id"]) for data in (await session.execute(query)).scalars()
            if (data or {}).get("message_id") is not None}


async def _context(session: AsyncSession, message: Message) -> tuple[ContextLine, ...]:
    earlier = (await session.execute(
        select(Message.author, Message.text).where(Message.conversation_id == message.conversation_id,
                                                   Message.id < message.id)
        .order_by(Message.id.desc()).limit(CONTEXT_LINES)
    )).all()
    return tuple(ContextLine(author, text) for author, text in reversed(earlier))


async def _customer_message(session: AsyncSession, message_id: int) -> Message:
    message = await session.get(Message, message_id)
    if message is None or message.author != "customer":
        raise LookupError(f"no customer message {message_id}")
    return message
