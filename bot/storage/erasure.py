"""The statements that erase customers from the history and the work queues.

What is deleted: the customer rows, their conversations and everything hanging off them
(messages, events including review flags and annotations, notes, ratings, the outbox, the
reports' hand-over facts and the open channels' per-address hand-over counts, and their
posts copied into alerts).
What is kept of an inbox row is what deduplication needs and nothing the customer wrote
or is known by: its channel and a hash of the platform's message id, so that a platform
re-delivering an erased message is recognised (bot/worker.py) instead of answered again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import rasa_sender_id
from bot.storage.models import (
    AddressHandoff,
    Alert,
    Conversation,
    ConversationEvent,
    Customer,
    InboxItem,
    Message,
    Note,
    OutboxItem,
    ReportHandover,
    Satisfaction,
    TrainingRun,
)

ERASED_PREFIX = "%erased:"
# The conversation key of an erased inbox row: no conversation, nothing claimable.
ERASED_KEY = "%erased"
REDACTED = "[erased]"
# Shorter texts ("hi", "yes") are everybody's: they are not searched for in training runs.
MIN_REDACTED_CHARS = 8
TABLES = ("customers", "conversations", "messages", "conversation_events", "notes", "satisfaction", "outbox",
          "inbox", "training_runs", "report_handovers", "address_handoffs", "alerts")


def erased_message_id(platform_message_id: str) -> str:
    """The id an erased inbox row keeps: a hash, which a redelivery's id can be checked
    against but which tells nobody the id (REST and web chat ids contain the sender's)."""
    return ERASED_PREFIX + hashlib.sha256(platform_message_id.encode()).hexdigest()


@dataclass(frozen=True)
class Found:
    """One customer's rows, as found before erasing them."""

    customer_ids: tuple[int, ...]
    conversation_ids: tuple[int, ...]
    # The inbox's names for the customer (`IncomingMessage.conversation_key`).
    conversation_keys: tuple[str, ...]
    texts: tuple[str, ...]
    # The dialogue engine's names for the customer (its tracker's sender ids).
    tracker_ids: tuple[str, ...] = ()


async def find_customer(session: AsyncSession, channel: str, sender: str) -> Found:
    """The customer known on `channel` as `sender` (or writing privately as `sender`)."""
    customers = (await session.execute(select(Customer).where(
        Customer.channel == channel, or_(Customer.external_id == sender, Customer.messaging_id == sender)))).scalars()
    found = await _found(session, list(customers))
    # Messages accepted but never processed have a conversation key and no customer yet.
    keys = tuple(sorted({*found.conversation_keys, f"{channel}:{sender}"}))
    tracker_ids = tuple(sorted({*found.tracker_ids, rasa_sender_id(channel, sender)}))
    return Found(found.customer_ids, found.conversation_ids, keys, found.texts, tracker_ids)


async def find_by_conversations(session: AsyncSession, conversation_ids: Sequence[int]) -> list[Found]:
    """The customers of these conversations, one `Found` each, with only these conversations
    (retention erases old conversations, not a customer's newer ones)."""
    rows = (await session.execute(select(Conversation.id, Customer)
                                  .join(Customer, Customer.id == Conversation.customer_id)
                                  .where(Conversation.id.in_(conversation_ids)))).all()
    by_customer: dict[int, tuple[Customer, list[int]]] = {}
    for conversation_id, customer in rows:
        by_customer.setdefault(customer.id, (customer, []))[1].append(conversation_id)
    return [await _found(session, [customer], ids) for customer, ids in by_customer.values()]


async def _found(session: AsyncSession, customers: list[Customer], only: Sequence[int] | None = None) -> Found:
    ids = tuple(c.id for c in customers)
    if only is None:
        conversation_ids = tuple((await session.execute(
            select(Conversation.id).where(Conversation.customer_id.in_(ids)))).scalars()) if ids else ()
    else:
        conversation_ids = tuple(only)
    names = {(c.channel, sender) for c in customers for sender in (c.external_id, c.messaging_id) if sender}
    keys = tuple(sorted(f"{channel}:{sender}" for channel, sender in names))
    tracker_ids = tuple(sorted({rasa_sender_id(channel, sender) for channel, sender in names}))
    texts = tuple((await session.execute(select(Message.text).where(
        Message.conversation_id.in_(conversation_ids), Message.author == "customer"))).scalars()) \
        if conversation_ids else ()
    return Found(ids, conversation_ids, keys, texts, tracker_ids)


async def erase(session: AsyncSession, found: Found, *, whole_customer: bool = True) -> dict[str, int]:
    """Delete what `found` names, in the caller's transaction; rows per table.

    With `whole_customer` false only the conversations go, and the customer row stays
    when it has others left (retention). A customer's inbox rows are reduced to what
    deduplication needs."""
    counts = dict.fromkeys(TABLES, 0)
    conversations = list(found.conversation_ids)
    if conversations:
        inbox_ids = set((await session.execute(select(Message.inbox_id).where(
            Message.conversation_id.in_(conversations), Message.inbox_id.is_not(None)))).scalars())
        # The reports' hand-over facts and the open channels' hand-over counts first: they
        # point at the events and conversations below.
        for table, column in ((ReportHandover, ReportHandover.conversation_id),
                              (AddressHandoff, AddressHandoff.conversation_id),
                              (OutboxItem, OutboxItem.conversation_id), (Note, Note.conversation_id),
                              (Satisfaction, Satisfaction.conversation_id),
                              (ConversationEvent, ConversationEvent.conversation_id),
                              (Message, Message.conversation_id)):
            result = await session.execute(delete(table).where(column.in_(conversations))
                                           .execution_options(synchronize_session=False))
            counts[table.__tablename__] += result.rowcount
    else:
        inbox_ids = set()
    if whole_customer and found.conversation_keys:
        # Messages not yet in a conversation (accepted, not processed) are theirs too.
        inbox_ids |= set((await session.execute(select(InboxItem.id).where(
            InboxItem.conversation_key.in_(found.conversation_keys)))).scalars())
    counts["inbox"] = await _reduce_inbox(session, sorted(inbox_ids))
    if conversations:
        result = await session.execute(delete(Conversation).where(Conversation.id.in_(conversations))
                                       .execution_options(synchronize_session=False))
        counts["conversations"] = result.rowcount
    if found.customer_ids:
        remaining = set(found.customer_ids) if whole_customer else set(found.customer_ids) - set(
            (await session.execute(select(Conversation.customer_id).where(
                Conversation.customer_id.in_(found.customer_ids)))).scalars())
        if remaining:
            result = await session.execute(delete(Customer).where(Customer.id.in_(remaining))
                                           .execution_options(synchronize_session=False))
            counts["customers"] = result.rowcount
    counts["training_runs"] = await _redact_training_runs(session, found.texts)
    counts["alerts"] = await _drop_alert_posts(session, set(conversations))
    return counts


async def _drop_alert_posts(session: AsyncSession, conversations: set[int]) -> int:
    """Alerts keep copies of the posts that made them (text, author): those of erased
    conversations go; the alert and its figures stay. Alerts are few, so they are read."""
    if not conversations:
        return 0
    changed = 0
    for alert in (await session.execute(select(Alert))).scalars():
        kept = [post for post in alert.posts or () if post.get("conversation_id") not in conversations]
        if len(kept) != len(alert.posts or ()):
            alert.posts, changed = kept, changed + 1
    return changed


async def _reduce_inbox(session: AsyncSession, inbox_ids: list[int]) -> int:
    if not inbox_ids:
        return 0
    rows = (await session.execute(select(InboxItem.id, InboxItem.platform_message_id)
                                  .where(InboxItem.id.in_(inbox_ids)))).all()
    for inbox_id, platform_id in rows:
        reduced = platform_id if platform_id.startswith(ERASED_PREFIX) else erased_message_id(platform_id)
        await session.execute(update(InboxItem).where(InboxItem.id == inbox_id).values(
            platform_message_id=reduced, conversation_key=ERASED_KEY, payload={}, status="done", error=None,
            lease_until=None).execution_options(synchronize_session=False))
    return len(rows)


async def _redact_training_runs(session: AsyncSession, texts: Iterable[str]) -> int:
    """A training run's output and report may quote examples (customer text a trainer
    copied into the training data): those quotes are replaced."""
    needles = sorted({t.strip() for t in texts if len(t.strip()) >= MIN_REDACTED_CHARS}, key=len, reverse=True)
    if not needles:
        return 0
    changed = 0
    for run in (await session.execute(select(TrainingRun))).scalars():
        fields = {name: getattr(run, name) for name in ("output", "report", "error")}
        redacted = {name: _redact(value, needles) for name, value in fields.items()}
        if redacted != fields:
            for name, value in redacted.items():
                setattr(run, name, value)
            changed += 1
    return changed


def _redact(value: str | None, needles: list[str]) -> str | None:
    if not value:
        return value
    for needle in needles:
        value = value.replace(needle, REDACTED)
    return value


async def is_erased_delivery(session: AsyncSession, channel: str, platform_message_id: str) -> bool:
    """Whether this platform message belonged to an erased customer (a redelivery)."""
    return (await session.execute(select(InboxItem.id).where(
        InboxItem.channel == channel, InboxItem.platform_message_id == erased_message_id(platform_message_id))
    )).first() is not None


async def drop_redelivery(session: AsyncSession, inbox_id: int, fence: int) -> None:
    """A redelivered erased message is not answered, and nothing of it is kept: its inbox
    row goes (the erased row's hash keeps recognising later redeliveries)."""
    await session.execute(delete(InboxItem).where(InboxItem.id == inbox_id, InboxItem.attempts == fence)
                          .execution_options(synchronize_session=False))
