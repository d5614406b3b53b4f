"""Queries of the history: customers, conversations, messages and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import IncomingMessage, OutgoingMessage, StatusUpdate
from bot.storage import handover_facts
from bot.storage.dialect import insert_ignoring_conflicts
from bot.storage.models import Conversation, ConversationEvent, Customer, Message

OPEN_STATUSES = ("bot", "queued", "assigned")


async def customer_for(session: AsyncSession, channel: str, external_id: str, name: str | None,
                       now: datetime) -> Customer:
    """The customer writing as `external_id`, made at the first contact. A commenter who
    answers a private reply writes from another id (`link_messaging_id`) and is found by it."""
    customer = await _customer_writing_as(session, channel, external_id)
    if customer is None:
        await session.execute(insert_ignoring_conflicts(session, Customer.__table__, [
            {"channel": channel, "external_id": external_id, "display_name": name, "created_at": now}
        ]))
        customer = await _customer_writing_as(session, channel, external_id)
    if name and customer.display_name != name:
        customer.display_name = name
    return customer


def _customer_writing_as_statement():
    # Two indexed look-ups in one statement (an OR of the two columns would scan the channel).
    # Built once: building an ORM statement cost more CPU than running it.
    channel, sender_id = bindparam("channel"), bindparam("sender_id")
    linked = (select(Customer.id).where(Customer.channel == channel, Customer.messaging_id == sender_id)
              .order_by(Customer.id.desc()).limit(1).scalar_subquery())
    own = select(Customer.id).where(Customer.channel == channel, Customer.external_id == sender_id).scalar_subquery()
    return select(Customer).where(Customer.id == func.coalesce(linked, own))


_CUSTOMER_WRITING_AS = _customer_writing_as_statement()


async def _customer_writing_as(session: AsyncSession, channel: str, sender_id: str) -> Customer | None:
    return (await session.execute(_CUSTOMER_WRITING_AS, {"channel": channel, "sender_id": sender_id})
            ).scalar_one_or_none()


async def link_messaging_id(session: AsyncSession, conversation_id: int, messaging_id: str) -> None:
    """The platform delivered a private reply to `messaging_id` (Meta's PSID of a commenter):
    the customer's private answer comes from there, and lands in their conversation."""
    customer_id = select(Conversation.customer_id).where(Conversation.id == conversation_id).scalar_subquery()
    await session.execute(
        update(Customer).where(Customer.id == customer_id, Customer.external_id != messaging_id)
        .values(messaging_id=messaging_id).execution_options(synchronize_session=False)
    )


def private_address(customer: Customer) -> str:
    """Where a private message to the customer goes: the id they write privately from."""
    return customer.messaging_id or customer.external_id


async def open_conversation(session: AsyncSession, customer: Customer, channel: str,
                            now: datetime, *, lock: bool = False) -> Conversation:
    """The customer's current conversation; a new one when the last was closed."""
    query = _OPEN_CONVERSATION_LOCKED if lock and session.bind.dialect.name == "postgresql" else _OPEN_CONVERSATION
    conversation = (await session.execute(query, {"customer_id": customer.id})).scalar_one_or_none()
    if conversation is None:
        conversation = Conversation(customer_id=customer.id, channel=channel, status="bot", priority=0,
                                    is_public=False, created_at=now, updated_at=now, last_message_at=now)
        session.add(conversation)
        await session.flush()
    return conversation


_OPEN_CONVERSATION = (select(Conversation)
                      .where(Conversation.customer_id == bindparam("customer_id"),
                             Conversation.status.in_(OPEN_STATUSES))
                      .order_by(Conversation.id.desc()).limit(1))
_OPEN_CONVERSATION_LOCKED = _OPEN_CONVERSATION.with_for_update()


async def find_conversation(session: AsyncSession, channel: str, external_id: str) -> Conversation | None:
    return (await session.execute(
        select(Conversation).join(Customer, Customer.id == Conversation.customer_id)
        .where(Customer.channel == channel, Customer.external_id == external_id)
        .order_by(Conversation.id.desc()).limit(1)
    )).scalar_one_or_none()


async def incoming_for_inbox(session: AsyncSession, inbox_id: int) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.inbox_id == inbox_id, Message.direction == "in")
    )).scalar_one_or_none()


async def record_incoming(session: AsyncSession, conversation: Conversation, inbox_id: int,
                          incoming: IncomingMessage, sentiment: float | None, now: datetime, *,
                          retried: bool = True) -> Message:
    """The customer's message, once: a retried inbox item finds the record it made before
    (on its first claim, `retried` False, there can be none to look for)."""
    existing = await incoming_for_inbox(session, inbox_id) if retried else None
    if existing is not None:
        return existing
    message = Message(
        conversation_id=conversation.id, direction="in", author="customer", text=incoming.text,
        data={"payload": incoming.payload, "attachments": [a.__dict__ for a in incoming.attachments],
              "is_public": incoming.is_public, "thread_id": incoming.thread_id,
              # What the model and its actions were given with the text, for the agent to see.
              "metadata": incoming.rasa_metadata()},
        platform_message_id=incoming.message_id, client_id=incoming.metadata.get("client_id"),
        inbox_id=inbox_id, sentiment=sentiment, created_at=now, is_public=incoming.is_public,
    )
    session.add(message)
    conversation.last_message_at = now
    if not incoming.is_public:
        # Only a private message opens the platforms' messaging windows: a public comment
        # allows one private reply to itself (Meta), not a conversation.
        conversation.last_customer_message_at = now
    conversation.updated_at = now
    if incoming.is_public:
        conversation.is_public = True
    if sentiment is not None:
        conversation.sentiment = sentiment
    await session.flush()
    return message


def _outgoing_row(conversation_id: int, inbox_id: int | None, outgoing: OutgoingMessage,
                  now: datetime) -> dict[str, Any]:
    return dict(
        conversation_id=conversation_id, direction="out", author=outgoing.author, text=outgoing.text,
        data={"buttons": [b.__dict__ for b in outgoing.buttons], "image": outgoing.image,
              "custom": outgoing.custom, "is_public": outgoing.is_public},
        inbox_id=inbox_id, agent_name=outgoing.agent_name, delivery_status="pending", created_at=now,
    )


async def record_outgoing(session: AsyncSession, conversation: Conversation, inbox_id: int | None,
                          outgoing: OutgoingMessage, now: datetime) -> Message:
    message = Message(**_outgoing_row(conversation.id, inbox_id, outgoing, now))
    session.add(message)
    conversation.last_message_at = now
    conversation.updated_at = now
    await session.flush()
    if outgoing.author == "agent":
        # It may be the first reply to a hand-over: the reports' facts follow in this transaction.
        await handover_facts.refresh(session, conversation.id)
    return message


# The dialogue worker's answer to a message is written with these, as plain statements:
# the ORM's unit of work cost about a millisecond of CPU a row, more than the SQL.

async def record_replies(session: AsyncSession, conversation_id: int, inbox_id: int,
                         replies: list[OutgoingMessage], now: datetime, *, with_ids: bool) -> list[int]:
    """The model's replies to one message; their ids when `with_ids` (for the outbox)."""
    if not replies:
        return []
    rows = [_outgoing_row(conversation_id, inbox_id, reply, now) for reply in replies]
    ids = []
    if with_ids:
        for row in rows:
            ids.append((await session.execute(_INSERT_MESSAGE, row)).inserted_primary_key[0])
    else:
        await session.execute(_INSERT_MESSAGE, rows)
    await session.execute(_CONVERSATION_TOUCHED, {"conversation": conversation_id, "touched_at": now})
    return ids


async def record_understanding(session: AsyncSession, message_id: int, intent: str | None,
                               confidence: float | None, entities: list[dict[str, Any]]) -> None:
    """What the model made of a customer's message, kept on the message for the trainers."""
    await session.execute(_UNDERSTOOD, {"message": message_id, "understood_intent": intent,
                                        "understood_confidence": confidence, "understood_entities": entities})


async def add_events(session: AsyncSession, conversation_id: int, events: list[tuple[str, dict[str, Any]]],
                     now: datetime) -> None:
    if events:
        await session.execute(_INSERT_EVENT, [
            {"conversation_id": conversation_id, "kind": kind, "data": data, "created_at": now}
            for kind, data in events])
        if any(kind in handover_facts.HANDOVER_EVENTS for kind, _ in events):
            await handover_facts.refresh(session, conversation_id)


_MESSAGES, _CONVERSATIONS = Message.__table__, Conversation.__table__
_INSERT_MESSAGE, _INSERT_EVENT = _MESSAGES.insert(), ConversationEvent.__table__.insert()
_CONVERSATION_TOUCHED = (_CONVERSATIONS.update().where(_CONVERSATIONS.c.id == bindparam("conversation"))
                         .values(last_message_at=bindparam("touched_at", type_=_CONVERSATIONS.c.last_message_at.type),
                                 updated_at=bindparam("touched_at", type_=_CONVERSATIONS.c.updated_at.type)))
_UNDERSTOOD = (_MESSAGES.update().where(_MESSAGES.c.id == bindparam("message"))
               .values(intent=bindparam("understood_intent"), confidence=bindparam("understood_confidence"),
                       entities=bindparam("understood_entities", type_=_MESSAGES.c.entities.type)))


async def last_from_customer(session: AsyncSession, conversation_id: int) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.id.desc()).limit(1)
    )).scalar_one_or_none()


async def mark_undeliverable(session: AsyncSession, message: Message, error: str, now: datetime,
                             status: str = "failed") -> None:
    """A reply that cannot go out at all, recorded the way the outbox records a send refused
    for good: the agent sees it failed, and why. `status` "not_deliverable": the channel
    has no way to send it (Rasa's REST answers only inside the customer's own request)."""
    message.delivery_status, message.error = status, error
    await add_event(session, message.conversation_id, "delivery_failed",
                    {"message_id": message.id, "error": error, "attempts": 0}, now)


async def add_event(session: AsyncSession, conversation_id: int, kind: str, data: dict[str, Any],
                    now: datetime) -> None:
    session.add(ConversationEvent(conversation_id=conversation_id, kind=kind, data=data, created_at=now))
    if kind in handover_facts.HANDOVER_EVENTS:
        # A hand-over starts or ends: the reports' facts follow in this transaction.
        await handover_facts.refresh(session, conversation_id)


async def replies_to(session: AsyncSession, inbox_id: int) -> list[Message]:
    rows = await session.execute(
        select(Message).where(Message.inbox_id == inbox_id, Message.direction == "out").order_by(Message.id)
    )
    return list(rows.scalars())


async def deliver_in_band(session: AsyncSession, inbox_id: int) -> list[Message]:
    """The replies to a message answered in the response to its own request (Rasa's REST),
    marked sent as they are read."""
    if session.bind.dialect.name == "postgresql":
        return sorted((await session.execute(_DELIVER_IN_BAND, {"answered_inbox_id": inbox_id})).scalars(),
                      key=lambda message: message.id)
    replies = await replies_to(session, inbox_id)
    if replies:
        await session.execute(update(Message).where(Message.id.in_([r.id for r in replies]))
                              .values(delivery_status="sent"))
    return replies


# The ORM wrapper is built once too: a new one per call made SQLAlchemy hash the whole
# UPDATE again each time.
_DELIVER_IN_BAND = select(Message).from_statement(
    update(Message.__table__)
    .where(Message.__table__.c.inbox_id == bindparam("answered_inbox_id"), Message.__table__.c.direction == "out")
    .values(delivery_status="sent").returning(*Message.__table__.columns)
).execution_options(populate_existing=True)


@dataclass(frozen=True)
class Transcript:
    customer: Customer
    conversations: list[Conversation]
    messages: list[Message]
    events: list[ConversationEvent]


async def transcript(session: AsyncSession, channel: str, external_id: str) -> Transcript | None:
    customer = (await session.execute(
        select(Customer).where(Customer.channel == channel, Customer.external_id == external_id)
    )).scalar_one_or_none()
    if customer is None:
        return None
    conversations = list((await session.execute(
        select(Conversation).where(Conversation.customer_id == customer.id).order_by(Conversation.id)
    )).scalars())
    ids = [c.id for c in conversations]
    messages = list((await session.execute(
        select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.id)
    )).scalars())
    events = list((await session.execute(
        select(ConversationEvent).where(ConversationEvent.conversation_id.in_(ids)).order_by(ConversationEvent.id)
    )).scalars())
    return Transcript(customer, conversations, messages, events)


async def messages_of(session: AsyncSession, conversation_id: int) -> list[Message]:
    return list((await session.execute(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )).scalars())


async def apply_status(session: AsyncSession, update_: StatusUpdate) -> bool:
    """Move a sent message's delivery status forward (never back: a late 'delivered'
    receipt does not undo 'read'). True when a message of ours matched.

    Only a message sent on the receipt's own channel matches: platform ids are unique
    within a platform, not across them, and a receipt (from a platform, or forged by anyone
    who can post to one webhook) must not change what another channel's message says."""
    from bot.messages import DELIVERY_ORDER

    message = (await session.execute(
        select(Message).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.platform_message_id == update_.platform_message_id, Message.direction == "out",
               Conversation.channel == update_.channel).limit(1)
    )).scalar_one_or_none()
    if message is None:
        return False
    if update_.status == "failed":
        message.delivery_status, message.error = "failed", update_.error
    elif DELIVERY_ORDER.get(update_.status, 0) > DELIVERY_ORDER.get(message.delivery_status or "pending", 0):
        message.delivery_status = update_.status
    return True
