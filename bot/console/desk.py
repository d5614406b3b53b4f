"""What agents do to conversations: claim, reply, note, transfer, resolve, reopen, hand back.

Each operation is one transaction, then a notice on the bus: CONSOLE_TOPIC for every open
console (the queue and conversation pages re-read), the customer's topic for their web
chat, OUTBOX_TOPIC for the sender. The HTTP layer (bot/console/api.py) only translates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot import audit
from bot.bus import CONSOLE_TOPIC, OUTBOX_TOPIC, Bus, customer_topic
from bot.console.present import queue_snapshot, record_json
from bot.handoff import TransitionError
from bot.messages import Button, OutgoingMessage, utcnow
from bot.phrases import Phrasebook, shipped
from bot.storage import console as store
from bot.storage import accounts, history, outbox
from bot.storage import queue as queue_store
from bot.storage.database import Database
from bot.storage.models import Conversation, Customer, Message
from bot.training.review import flag_message
from channels.meta import PRIVATE_REPLY_WINDOW

SATISFACTION_BUTTONS = tuple(Button(title=str(score), payload=f'/rate{{"score": {score}}}') for score in range(1, 6))
# Where a public comment allows exactly one private reply to itself, within 7 days, and only
# the customer's private answer opens a conversation (Meta's rules for pages and Instagram).
PRIVATE_REPLY_CHANNELS = frozenset({"facebook", "instagram"})


# The most conversations of each kind a queue snapshot holds.
QUEUE_PAGE = 100


class DeskError(Exception):
    """A request the agent can fix or must be told about; `status` is its HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


NOT_DELIVERABLE = ("This customer writes through the REST API, which can only answer inside their own "
                   "request: a reply written here cannot reach them. It is kept in the history.")


@dataclass
class Desk:
    db: Database
    bus: Bus
    clock: Callable[[], datetime] = utcnow
    # Channels with no way to send a message after the customer's request was answered
    # (Rasa's REST): agents are told before they write, and a reply is "not_deliverable".
    no_push_channels: frozenset[str] = frozenset()
    # The satisfaction question in the conversation's language (bot/phrases.py).
    phrases: Phrasebook = field(default_factory=shipped)

    async def queue(self, agent: str, limit: int = QUEUE_PAGE, offset: int = 0) -> dict[str, Any]:
        """A page of the queue: every console re-reads it on every change, so its size must
        not grow with the queue (a flood of handoffs would slow every agent's page)."""
        now = self.clock()
        async with self.db.session() as session:
            page = await queue_store.queue_page(session, agent, now, limit, offset)
        return queue_snapshot(page, now, offset)

    async def record(self, conversation_id: int, viewer: str) -> dict[str, Any]:
        async with self.db.session() as session:
            found = await store.conversation_record(session, conversation_id)
        if found is None:
            raise DeskError(f"no conversation {conversation_id}", 404)
        notice = NOT_DELIVERABLE if found.conversation.channel in self.no_push_channels else None
        return record_json(found, viewer, reply_notice=notice)

    async def claim(self, conversation_id: int, agent: str) -> None:
        try:
            async with self.db.session() as session:
                conversation = await queue_store.claim(session, conversation_id, agent, self.clock())
                await audit.record(session, agent, "claim", f"conversation:{conversation_id}", self.clock())
                key = await self._customer_key(session, conversation)
                shown = await accounts.shown_name(session, agent)
        except queue_store.ClaimLost as lost:
            raise DeskError(str(lost)) from lost
        except LookupError as error:
            raise DeskError(str(error), 404) from error
        await self._announce(conversation_id, "claimed", key, {"status": "assigned", "agent_name": shown})

    async def reply(self, conversation_id: int, agent: str, text: str) -> int:
        text = text.strip()
        if not text:
            raise DeskError("the reply is empty", 400)
        now = self.clock()
        async with self.db.session() as session:
            conversation = await self._owned(session, conversation_id, agent)
            customer = await session.get(Customer, conversation.customer_id)
            # In private, also for a conversation that began with a public post: people
            # settle things out of the public eye.
            outgoing = OutgoingMessage(channel=conversation.channel, recipient_id=history.private_address(customer),
                                       text=text, author="agent", agent_name=agent,
                                       agent_shown_as=await accounts.shown_name(session, agent))
            refused = None
            if conversation.is_public and conversation.channel in PRIVATE_REPLY_CHANNELS:
                outgoing, refused = await self._to_commenter(session, conversation, outgoing, now)
            message = await history.record_outgoing(session, conversation, None, outgoing, now)
            await self._send_or_refuse(session, message, outgoing, refused, now)
            message_id = message.id
            await audit.record(session, agent, "reply", f"conversation:{conversation_id}", now, message=message_id)
        await self.bus.publish(OUTBOX_TOPIC, {"conversation_id": conversation_id})
        await self.bus.publish(CONSOLE_TOPIC, {"type": "reply", "conversation_id": conversation_id})
        return message_id

    async def note(self, conversation_id: int, agent: str, text: str) -> None:
        text = text.strip()
        if not text:
            raise DeskError("the note is empty", 400)
        async with self.db.session() as session:
            if await session.get(Conversation, conversation_id) is None:
                raise DeskError(f"no conversation {conversation_id}", 404)
            await store.add_note(session, conversation_id, agent, text, self.clock())
            await audit.record(session, agent, "note", f"conversation:{conversation_id}", self.clock())
        await self.bus.publish(CONSOLE_TOPIC, {"type": "note", "conversation_id": conversation_id})

    async def transfer(self, conversation_id: int, by: str, to_agent: str, *, supervisor: bool) -> None:
        async with self.db.session() as session:
            if to_agent not in await store.agent_names(session, frozenset({"agent", "supervisor", "admin"})):
                raise DeskError(f"{to_agent!r} is not an active agent", 400)
            if not supervisor:
                await self._owned(session, conversation_id, by)
            try:
                conversation = await queue_store.transfer(session, conversation_id, to_agent, by, self.clock())
            except LookupError as error:
                raise DeskError(str(error), 404) from error
            except TransitionError as error:
                raise DeskError(str(error)) from error
            key = await self._customer_key(session, conversation)
            shown = await accounts.shown_name(session, to_agent)
            await audit.record(session, by, "transfer", f"conversation:{conversation_id}", self.clock(), to=to_agent)
        await self._announce(conversation_id, "transferred", key, {"status": "assigned", "agent_name": shown})

    async def resolve(self, conversation_id: int, agent: str, *, ask_satisfaction: bool, supervisor: bool) -> None:
        now = self.clock()
        async with self.db.session() as session:
            conversation = await (queue_store.owned(session, conversation_id) if supervisor
                                  else self._owned(session, conversation_id, agent))
            try:
                await queue_store.close(session, conversation_id, agent, now, ask_satisfaction)
            except TransitionError as error:
                raise DeskError(str(error)) from error
            customer = await session.get(Customer, conversation.customer_id)
            if ask_satisfaction:
                question = OutgoingMessage(channel=conversation.channel, recipient_id=history.private_address(customer),
                                           text=self.phrases.say("satisfaction_question", conversation.language),
                                           buttons=SATISFACTION_BUTTONS, author="bot")
                message = await history.record_outgoing(session, conversation, None, question, now)
                await self._send_or_refuse(session, message, question, None, now)
                await history.add_event(session, conversation_id, "satisfaction_asked", {"by": agent}, now)
            key = f"{customer.channel}:{customer.external_id}"
            await audit.record(session, agent, "resolve", f"conversation:{conversation_id}", now)
        if ask_satisfaction:
            await self.bus.publish(OUTBOX_TOPIC, {"conversation_id": conversation_id})
        await self._announce(conversation_id, "resolved", key, {"status": "closed", "agent_name": None})

    async def hand_back(self, conversation_id: int, agent: str, *, supervisor: bool) -> None:
        async with self.db.session() as session:
            if not supervisor:
                await self._owned(session, conversation_id, agent, allow_queued=True)
            try:
                conversation = await queue_store.hand_back(session, conversation_id, agent, self.clock())
            except LookupError as error:
                raise DeskError(str(error), 404) from error
            except TransitionError as error:
                raise DeskError(str(error)) from error
            key = await self._customer_key(session, conversation)
            await audit.record(session, agent, "handback", f"conversation:{conversation_id}", self.clock())
        await self._announce(conversation_id, "handback", key, {"status": "bot", "agent_name": None})

    async def reopen(self, conversation_id: int, agent: str, *, supervisor: bool) -> None:
        """Take a resolved conversation back, to write to the customer again: the agents who
        handled it may, and supervisors. A satisfaction question still open is withdrawn
        (bot/storage/console.py, awaiting_rating): the customer's next words go to the agent."""
        now = self.clock()
        async with self.db.session() as session:
            try:
                conversation = await queue_store.owned(session, conversation_id)
            except LookupError as error:
                raise DeskError(str(error), 404) from error
            if conversation.status != "closed":
                raise DeskError(f"the conversation is {conversation.status}, not resolved")
            if not supervisor and not await store.handled_by(session, conversation, agent):
                raise DeskError("only the agents who handled this conversation, or a supervisor, may reopen it", 403)
            try:
                await queue_store.reopen(session, conversation_id, agent, now)
            except queue_store.Superseded as newer:
                raise DeskError(str(newer)) from newer
            key = await self._customer_key(session, conversation)
            shown = await accounts.shown_name(session, agent)
            await audit.record(session, agent, "reopen", f"conversation:{conversation_id}", now)
        await self._announce(conversation_id, "reopened", key, {"status": "assigned", "agent_name": shown})

    async def flag_for_training(self, message_id: int, agent: str) -> bool:
        """"The bot should have answered this": the customer message goes to the trainers'
        review. False when it was flagged already."""
        try:
            async with self.db.session() as session:
                flagged = await flag_message(session, message_id, agent, self.clock())
                conversation_id = (await session.get(Message, message_id)).conversation_id
                await audit.record(session, agent, "flag_for_training", f"message:{message_id}", self.clock())
        except LookupError as error:
            raise DeskError(str(error), 404) from error
        await self.bus.publish(CONSOLE_TOPIC, {"type": "flagged_for_training", "conversation_id": conversation_id})
        return flagged

    async def _to_commenter(self, session, conversation: Conversation, outgoing: OutgoingMessage,
                            now: datetime) -> tuple[OutgoingMessage, str | None]:
        """An agent's reply to someone who commented in public, and why it cannot go, if so.

        The customer's latest comment, when it has not had its one private reply and is at
        most 7 days old, gets the reply as that private reply; otherwise a customer who has
        written privately gets a message (the channel keeps Meta's 24-hour and 7-day
        windows); and one who has only commented cannot be reached until they write.
        """
        last = await history.last_from_customer(session, conversation.id)
        data = (last.data or {}) if last is not None else {}
        comment = str(data["thread_id"]) if data.get("is_public") and data.get("thread_id") else None
        used = await outbox.private_replies(session, conversation.id) if comment else set()
        if comment and comment not in used and now - last.created_at <= PRIVATE_REPLY_WINDOW:
            return replace(outgoing, thread_id=comment, custom={
                "private_reply": True, "comment_at": last.created_at.isoformat()}), None
        if conversation.last_customer_message_at is not None:
            return outgoing, None
        if comment in used:
            return outgoing, ("not sent: Meta allows one private reply to a public comment, and this comment has "
                              "had it; the customer can be written to again once they answer it in private "
                              "or comment again")
        if comment:
            return outgoing, ("not sent: the customer's comment is more than 7 days old, when Meta no longer "
                              "allows a private reply, and they have not written in private")
        return outgoing, "not sent: the customer has not written in private, and there is no comment to answer"

    async def _send_or_refuse(self, session, message: Message, outgoing: OutgoingMessage, refused: str | None,
                              now: datetime) -> None:
        """To the outbox, unless it cannot go: refused by the platform's rules, or on a
        channel that cannot send after the fact, where "sent" would be a lie."""
        if outgoing.channel in self.no_push_channels:
            await history.mark_undeliverable(session, message, NOT_DELIVERABLE, now, status="not_deliverable")
        elif refused is not None:
            await history.mark_undeliverable(session, message, refused, now)
        else:
            await outbox.enqueue(session, message, outgoing, now)

    async def _owned(self, session, conversation_id: int, agent: str, allow_queued: bool = False) -> Conversation:
        try:
            conversation = await queue_store.owned(session, conversation_id)
        except LookupError as error:
            raise DeskError(str(error), 404) from error
        if allow_queued and conversation.status == "queued":
            return conversation
        if conversation.status != "assigned":
            raise DeskError(f"the conversation is {conversation.status}; claim it first")
        if conversation.assigned_agent != agent:
            raise DeskError(f"the conversation belongs to {conversation.assigned_agent}")
        return conversation

    async def _customer_key(self, session, conversation: Conversation) -> str:
        customer = await session.get(Customer, conversation.customer_id)
        return f"{customer.channel}:{customer.external_id}"

    async def _announce(self, conversation_id: int, kind: str, customer_key: str, status: dict[str, Any]) -> None:
        await self.bus.publish(CONSOLE_TOPIC, {"type": kind, "conversation_id": conversation_id})
        await self.bus.publish(customer_topic(customer_key), {"type": "status", **status})
