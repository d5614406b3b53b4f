"""The dialogue worker: claims inbox messages one conversation at a time, asks the model or
leaves the message for a person, and commits the replies to the outbox.

A message is done when its replies are in the outbox, in the same transaction; a worker
that dies before that leaves its claim to expire and another worker answers instead, so
every accepted message is answered exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot import handoff, metrics
from bot.bus import CONSOLE_TOPIC, INBOX_TOPIC, OUTBOX_TOPIC, Bus, customer_topic, processed_topic
from bot.engine import ACTIONS_UNAVAILABLE, Turn
from bot.engine_process import EngineUnavailable
from bot.messages import IncomingMessage, OutgoingMessage, utcnow
from bot import public
from bot.business_hours import handoff_notice, parse as parse_business_hours
from bot.language import LanguageDetector
from bot.phrases import Phrasebook, shipped
from bot.router import HandOver, Moderate, PoliteReply, ToHuman, ToModel, route, satisfaction_score
from bot.sentiment import SentimentScorer
from bot.settings import Settings
from bot.storage import console as console_store
from bot.storage import address_handoffs, erasure, history, inbox, outbox
from bot.storage.database import Database
from bot.storage.models import Conversation, InboxItem
from bot.storage.queue import hand_to_queue

logger = logging.getLogger(__name__)


class Engine(Protocol):
    async def handle(self, conversation_key: str, text: str, *, channel: str, message_id: str,
                     metadata: dict | None = None) -> Turn: ...


class DialogueWorker:
    def __init__(self, db: Database, engine: Engine, bus: Bus, settings: Settings,
                 sentiment: SentimentScorer, clock: Callable[[], datetime] = utcnow,
                 in_band_channels: frozenset[str] = frozenset(), language: LanguageDetector | None = None,
                 phrases: Phrasebook | None = None) -> None:
        self.db = db
        self.engine = engine
        self.bus = bus
        self.settings = settings
        self.sentiment = sentiment
        self.clock = clock
        # Channels whose replies leave in the response to the customer's own request (Rasa's
        # REST): the waiting request reads them from the history, so an outbox send would
        # only be two more transactions that deliver nothing.
        self.in_band_channels = in_band_channels
        self.business_hours = parse_business_hours(settings.business_hours, settings.business_timezone)
        self.language = language
        self.phrases = phrases or shipped()
        self.handoff_names = handoff.RasaHandoffNames.parse(settings.handoff_intents, settings.handoff_actions)
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Claim and process messages until cancelled, `worker_concurrency` at a time."""
        running: set[asyncio.Task] = set()
        async with self.bus.subscribe(INBOX_TOPIC) as notices:
            waker = asyncio.create_task(self._wake_on(notices))
            try:
                await self._dispatch(running)
            finally:
                waker.cancel()
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)

    async def _wake_on(self, notices) -> None:
        while True:
            if await notices.get() is not None:
                self._wake.set()

    async def _dispatch(self, running: set[asyncio.Task]) -> None:
        """One claimer for the whole process, taking as many messages as there are free
        slots in one statement. (A claimer per slot made every new message wake them all,
        and all but one came back empty, which was a tenth of a worker's CPU.)"""
        slots = self.settings.worker_concurrency
        while True:
            free = slots - len(running)
            if free == 0:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                continue
            self._wake.clear()  # before the claim: a notice during it is not lost
            try:
                items = await self._claim(free)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is unreachable or a bug: log, pause, go on.
                logger.exception("dialogue worker could not claim messages; retrying shortly")
                await asyncio.sleep(self.settings.poll_interval)
                continue
            for item in items:
                task = asyncio.create_task(self._work(item), name=f"message-{item.id}")
                running.add(task)
                task.add_done_callback(running.discard)
            if len(items) < free:
                # Until new work is announced, a message finishes (its conversation's next
                # one may be waiting) or the poll interval passes.
                woken = asyncio.create_task(self._wake.wait())
                try:
                    await asyncio.wait({woken, *running}, timeout=self.settings.poll_interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()

    async def _claim(self, limit: int) -> list[InboxItem]:
        # One statement on PostgreSQL, so no transaction around it; on SQLite a transaction.
        async with self.db.statements() as session:
            return await inbox.claim(session, self.clock(), self.settings.inbox_lease_seconds, limit)

    async def _work(self, item: InboxItem) -> None:
        keeper = asyncio.create_task(self._keep_claim(item), name=f"lease-{item.id}")
        try:
            await self.process(item)
        except inbox.ClaimLost as lost:
            # Our lease ran out and another worker answers instead; nothing of ours was committed.
            logger.warning("%s; its answer is left to that worker", lost)
        except Exception as error:
            try:
                await self._failed(item, error)
            except Exception:
                # The database is away: the lease runs out and the message is taken again.
                logger.exception("could not record the failure of message %s", item.id)
        finally:
            keeper.cancel()

    async def _failed(self, item: InboxItem, error: Exception) -> None:
        outage = is_outage(error)
        if outage:
            # Redis or the database away: not the message's fault, so it never counts
            # towards giving up; it is retried soon, and again until they are back.
            logger.error("message %s not processed: %s unavailable (%s); retrying", item.id, outage,
                         _describe(error))
            retry_at = self.clock() + timedelta(seconds=min(2 ** min(item.attempts, 10), 10))
        else:
            logger.exception("message %s failed; it will be retried", item.id)
            retry_at = self.clock() + timedelta(seconds=min(2 ** item.attempts, 60))
        give_up = not outage and item.attempts >= 5
        try:
            async with self.db.session() as session:
                if give_up:
                    await inbox.finish(session, item, self.clock(), status="failed", error=repr(error))
                else:
                    await inbox.release(session, item, repr(error), retry_at)
        except inbox.ClaimLost:
            return
        # If the database is away this raises too: the lease then runs out and the
        # message is taken again, which is the same retry.
        if give_up:
            await self.bus.publish(processed_topic(item.id), {"inbox_id": item.id, "status": "failed"})

    async def _keep_claim(self, item: InboxItem) -> None:
        """Renew the lease while the message is worked on, so a slow turn is not taken over."""
        lease = self.settings.inbox_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                async with self.db.session() as session:
                    kept = await inbox.extend_lease(session, item, self.clock() + timedelta(seconds=lease))
            except Exception as error:  # the final commit is fenced: a lost lease costs a retry only
                logger.warning("could not renew the claim of message %s: %s", item.id, _describe(error))
                continue
            if not kept:
                return

    async def process(self, item: InboxItem) -> None:
        if await self._erased_redelivery(item):
            return
        message = IncomingMessage.from_json(item.payload)
        now = self.clock()
        score = self.sentiment.score(message.text)
        detected = (self.language.other_language(message.text)
                    if self.language is not None and not message.payload else None)
        if satisfaction_score(message) is not None and await self._rated(item, message, score, now):
            return
        async with self.db.session() as session:
            customer = await history.customer_for(session, message.channel, message.sender_id,
                                                  message.sender_name, now)
            conversation = await history.open_conversation(session, customer, message.channel, now, lock=True)
            incoming = await history.record_incoming(session, conversation, item.id, message, score, now,
                                                     retried=item.attempts > 1)
            incoming_id, conversation_id, status = incoming.id, conversation.id, conversation.status
            if detected:
                conversation.language = detected
            language = conversation.language
            decision = route(message, status, other_language=detected,
                             rated_already=self.phrases.say("rated_already", language))
            if isinstance(decision, ToHuman) and status == "queued":
                # A waiting customer who writes again, upset now, moves up the queue;
                # priority never falls while waiting (waiting itself raises it).
                conversation.priority = max(conversation.priority or 0, handoff.priority(
                    reason=conversation.handoff_reason or "", is_public=conversation.is_public,
                    sentiment=score, negative_threshold=self.settings.negative_sentiment_threshold,
                    earlier_contacts=await console_store.earlier_contacts(session, conversation, now)))
            queued_for_abuse = False
            if isinstance(decision, Moderate):
                # Kept on the post, so the reputation watch leaves spam out of its counts.
                incoming.moderation = decision.reason
                queued_for_abuse = await self._moderate(session, conversation, message, decision.reason, now)
            if isinstance(decision, (ToHuman, Moderate)):
                await inbox.finish(session, item, now)
        if queued_for_abuse:
            metrics.handed_over("abuse")
        if isinstance(decision, (ToHuman, Moderate)):
            await self._notify(item.id, message, {"type": "customer_message", "conversation_id": conversation_id})
            if isinstance(decision, Moderate) and self.settings.hide_abusive_comments:
                await self.bus.publish(OUTBOX_TOPIC, {"conversation_id": conversation_id})
            return

        turn: Turn | None = None
        if isinstance(decision, ToModel):
            turn = await self.engine.handle(message.rasa_sender_id, decision.text, channel=message.channel,
                                            message_id=message.message_id,
                                            metadata=message.rasa_metadata())
            replies = [_outgoing(message, r.text, r.buttons, r.image, r.custom) for r in turn.replies]
            events = [("nlu", {"message_id": incoming_id, "intent": turn.intent, "confidence": turn.confidence,
                               "entities": turn.entities, "ranking": turn.intent_ranking})]
            if turn.resumed:
                # The model's tracker was still paused by the action that handed over.
                events.append(("resumed", {"message_id": incoming_id}))
            if turn.actions:
                events.append(("actions", {"message_id": incoming_id, "actions": turn.actions}))
        elif isinstance(decision, HandOver):
            replies = [_outgoing(message, self.phrases.say("handoff_other_language", language))]
            events = [("language", {"message_id": incoming_id, "language": detected})]
        else:
            assert isinstance(decision, PoliteReply)
            replies = [_outgoing(message, decision.text)]
            events = [("polite_reply", {"message_id": incoming_id, "reason": decision.reason})]

        requested = handoff.requested_by_model(
            payload_reason=turn.handoff_reason, paused=turn.paused, intent=turn.intent, actions=turn.actions,
            names=self.handoff_names) if turn else None
        if requested == ACTIONS_UNAVAILABLE:
            # What the model said around the failed action (a form's next question, which
            # its form asks itself) would promise what nobody can do now.
            replies = [_outgoing(message, self.phrases.say("actions_unavailable", language))]

        def handing_over(earlier_contacts: int = 0) -> handoff.Handoff | None:
            return handoff.decide(
                requested_reason=decision.reason if isinstance(decision, HandOver) else requested,
                is_public=message.is_public, sentiment=score,
                negative_threshold=self.settings.negative_sentiment_threshold,
                intent=turn.intent if turn else None, earlier_contacts=earlier_contacts)

        handover = handing_over()
        in_band = message.channel in self.in_band_channels
        now = self.clock()
        async with self.db.session() as session:
            # The routine answer is plain inserts and updates; the conversation is read
            # only when it changes hands.
            conversation = None
            if handover is not None:
                conversation = await session.get(Conversation, conversation_id, populate_existing=True)
                # A customer who keeps coming back is not being helped: more urgent.
                handover = handing_over(await console_store.earlier_contacts(session, conversation, now))
            if turn is not None:
                await history.record_understanding(session, incoming_id, turn.intent, turn.confidence,
                                                   turn.entities)
            await history.add_events(session, conversation_id, events, now)
            if handover is not None and not isinstance(decision, HandOver) and requested is None:
                # Handed over on sentiment, not by the model: its routine answer would
                # sound deaf to an upset customer, so a person's promise replaces it.
                replies = [_outgoing(message, EMPATHETIC_HANDOFF)]
            replies = public.shape(message, replies, handed_over=handover is not None)
            queueing = handover is not None and conversation.status == "bot"
            if queueing and not await self._handoff_allowed(session, message, conversation_id, handover, now):
                # One address handing over conversation after conversation (a script rotating
                # sender ids): the message stays in the history, the queue stays for people.
                queueing, handover = False, None
                replies = [_outgoing(message, HANDOFF_REFUSED)]
            if queueing:
                replies = _with_notice(replies, message, handoff_notice(
                    self.business_hours, now, await console_store.median_recent_wait(session),
                    self.phrases, language))
            ids = await history.record_replies(session, conversation_id, item.id, replies, now, with_ids=not in_band)
            if not in_band:
                await outbox.enqueue_replies(session, conversation_id, list(zip(ids, replies)), now,
                                             accepted_at=item.received_at)
            if queueing:
                await hand_to_queue(session, conversation, handover.reason, handover.priority, now)
            await inbox.finish(session, item, now)
            status = conversation.status if conversation is not None else "bot"
        if queueing:
            metrics.handed_over(handover.reason)
        if replies and not in_band:
            await self.bus.publish(OUTBOX_TOPIC, {"conversation_id": conversation_id})
        if handover is not None:
            await self.bus.publish(customer_topic(message.conversation_key), {"type": "status", "status": status})
        await self._notify(item.id, message, {"type": "handoff" if handover else "answered",
                                              "conversation_id": conversation_id})

    async def _handoff_allowed(self, session, message: IncomingMessage, conversation_id: int,
                               handover: handoff.Handoff, now: datetime) -> bool:
        """Within its client address's ADDRESS_HANDOFFS_PER_HOUR (open channels only)."""
        limit = self.settings.address_handoffs_per_hour
        if not message.client_address or limit <= 0:
            return True
        if await address_handoffs.take_slot(session, message.client_address, conversation_id, limit, now):
            return True
        logger.warning("handoff of conversation %s refused: its address has had %d this hour",
                       conversation_id, limit)
        await history.add_event(session, conversation_id, "handoff_refused",
                                {"reason": handover.reason, "why": "address_limit", "limit": limit}, now)
        return False

    async def _rated(self, item: InboxItem, message: IncomingMessage, sentiment: float | None,
                     now: datetime) -> bool:
        """The answer to a resolved conversation's satisfaction question: stored on that
        conversation and thanked, instead of starting a new conversation."""
        stars = satisfaction_score(message)
        async with self.db.session() as session:
            customer = await history.customer_for(session, message.channel, message.sender_id,
                                                  message.sender_name, now)
            rated = await console_store.awaiting_rating(session, customer.id)
            if rated is None or stars is None:
                return False
            await history.record_incoming(session, rated, item.id, message, sentiment, now)
            await console_store.record_satisfaction(session, rated, stars, now)
            await history.add_event(session, rated.id, "satisfaction", {"score": stars}, now)
            thanks = _outgoing(message, self.phrases.say("thanks_for_rating", rated.language))
            record = await history.record_outgoing(session, rated, item.id, thanks, now)
            await outbox.enqueue(session, record, thanks, now, accepted_at=item.received_at)
            await inbox.finish(session, item, now)
        await self.bus.publish(OUTBOX_TOPIC, {"conversation_id": rated.id})
        await self._notify(item.id, message, {"type": "satisfaction", "conversation_id": rated.id})
        return True

    async def _moderate(self, session, conversation: Conversation, message: IncomingMessage, reason: str,
                        now: datetime) -> bool:
        """Flag the message (and hide it, if set); True when it was queued for a person."""
        await history.add_event(session, conversation.id, "flagged",
                                {"reason": reason, "message_id": message.message_id}, now)
        if self.settings.hide_abusive_comments and message.thread_id:
            hide = OutgoingMessage(channel=message.channel, recipient_id=message.sender_id, author="system",
                                   text="(comment hidden for moderation)", custom={"moderation": "hide"},
                                   is_public=True, thread_id=message.thread_id)
            record = await history.record_outgoing(session, conversation, None, hide, now)
            await outbox.enqueue(session, record, hide, now)
        if reason == "abuse" and conversation.status == "bot":
            # Swearing is often an angry customer with a real problem: the bot never
            # answers it in public, and a person decides what to do (answer privately,
            # hide, or leave it). Spam takes nobody's time.
            await hand_to_queue(session, conversation, "abuse", handoff.priority(
                reason="abuse", is_public=message.is_public, sentiment=conversation.sentiment,
                negative_threshold=self.settings.negative_sentiment_threshold), now)
            return True
        return False

    async def _erased_redelivery(self, item: InboxItem) -> bool:
        """A platform re-delivering a message of an erased customer: not answered again,
        and not kept (bot/privacy/erase.py). A REST request waiting for it gets no replies."""
        async with self.db.statements() as session:
            if not await erasure.is_erased_delivery(session, item.channel, item.platform_message_id):
                return False
            await erasure.drop_redelivery(session, item.id, item.attempts)
        await self.bus.publish(processed_topic(item.id), {"inbox_id": item.id, "status": "done"})
        return True

    async def _notify(self, inbox_id: int, message: IncomingMessage, console_event: dict) -> None:
        await self.bus.publish(processed_topic(inbox_id), {"inbox_id": inbox_id, "status": "done"})
        await self.bus.publish(CONSOLE_TOPIC, console_event)


EMPATHETIC_HANDOFF = ("I'm sorry about this. I'm passing your message to a member of our team, "
                      "who will get back to you here as soon as possible.")


HANDOFF_REFUSED = ("I'm sorry, our team can't take on more conversations from your connection right now. "
                   "Please try again a little later; meanwhile I'm happy to help with anything I can answer.")


def _with_notice(replies: list[OutgoingMessage], message: IncomingMessage, notice: str) -> list[OutgoingMessage]:
    """The expected wait and business hours, said privately: its own message in a private
    chat, added to the private reply of a public post."""
    from dataclasses import replace

    if not message.is_public:
        return [*replies, _outgoing(message, notice)]
    for index in range(len(replies) - 1, -1, -1):
        if not replies[index].is_public:
            return [*replies[:index], replace(replies[index], text=f"{replies[index].text}\n\n{notice}"),
                    *replies[index + 1:]]
    return replies


def _outgoing(message: IncomingMessage, text: str, buttons=(), image=None, custom=None) -> OutgoingMessage:
    return OutgoingMessage(
        channel=message.channel, recipient_id=message.sender_id, text=text, buttons=tuple(buttons),
        image=image, custom=custom, author="bot", is_public=message.is_public, thread_id=message.thread_id,
    )


def is_outage(error: BaseException) -> str | None:
    """Which service an error says is unreachable ("Redis", "the database"), or None."""
    from sqlalchemy.exc import DBAPIError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__
        if isinstance(current, EngineUnavailable):
            return "the dialogue engine"
        if module.startswith("redis") and type(current).__name__ in ("ConnectionError", "TimeoutError",
                                                                     "BusyLoadingError"):
            return "Redis"
        if isinstance(current, DBAPIError) and (current.connection_invalidated
                                                or type(current.orig).__name__ in OUTAGE_DRIVER_ERRORS):
            return "the database"
        if module.startswith("sqlalchemy") and type(current).__name__ == "TimeoutError":
            return "the database"  # no pooled connection came free in time
        if isinstance(current, (ConnectionError, TimeoutError, asyncio.TimeoutError)) or (
                isinstance(current, OSError) and current.errno is not None):
            return "a service (network)"
        current = current.__cause__ or current.__context__
    return None


# asyncpg's and psycopg2's names for "the server went away / is not accepting connections".
OUTAGE_DRIVER_ERRORS = {"ConnectionDoesNotExistError", "InterfaceError", "CannotConnectNowError",
                        "ConnectionFailureError", "OperationalError", "ConnectionRefusedError"}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:300]


async def announce_new_work(bus: Bus) -> None:
    await bus.publish(INBOX_TOPIC, {})
