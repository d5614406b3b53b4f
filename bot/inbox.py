"""The inbox: accepted messages are committed here before the webhook is acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import metrics
from bot.incoming_bounds import OutOfBounds, matchable, storable
from bot.bus import CONSOLE_TOPIC, INBOX_TOPIC, Bus, processed_topic
from bot.messages import IncomingMessage, StatusUpdate, utcnow
from bot.ratelimit import RateLimiter
from bot.storage import history
from bot.storage import inbox as store
from bot.storage.database import Database
from bot.storage.inbox import Accepted
from bot.storage.models import Message
from channels.base import WebhookRejected

logger = logging.getLogger(__name__)

# The database away, refusing, or too slow to hand out a connection: the caller answers 503.
# (asyncio's TimeoutError is a connect timeout; SQLAlchemy's, a full connection pool.)
# How long a receipt that matched no message waits before its second and last try.
LATE_RECEIPT_SECONDS = 2.0
STORAGE_ERRORS = (OperationalError, DBAPIError, OSError, ConnectionError, asyncio.TimeoutError, PoolTimeout)


class StorageUnavailable(Exception):
    """The database did not take the message: the platform must retry (503)."""


class RateLimited(Exception):
    """The sender is over its rate and its client can be told to resend (429)."""

    def __init__(self, retry_after: float, by_address: bool = False) -> None:
        whose = " from your network" if by_address else ""
        super().__init__(f"too many messages{whose}; retry in {retry_after:.1f}s")
        self.retry_after = retry_after
        self.by_address = by_address


class Inbox:
    def __init__(self, db: Database, bus: Bus, clock: Callable[[], datetime] = utcnow,
                 poll_interval: float = 0.5, limiter: RateLimiter | None = None,
                 address_limiter: RateLimiter | None = None) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.poll_interval = poll_interval
        self.limiter = limiter
        # Per client address, for the open channels' messages (those with a client_address):
        # their senders pick their own ids, so a per-sender limit alone is no limit.
        self.address_limiter = address_limiter
        self._background: set[asyncio.Task] = set()

    async def accept(self, messages: list[IncomingMessage], *, refuse_over_rate: bool = False) -> list[Accepted]:
        """Commit the messages; the caller acknowledges only after this returns.

        A sender over its rate (bot/ratelimit.py): with `refuse_over_rate` (REST, web chat)
        RateLimited is raised and nothing is stored; otherwise (platform webhooks, which
        must get 200) the message is stored now and deferred to its sender's next slot.
        A client address over its rate is always refused (RateLimited): only the open
        channels carry one, and their clients can be told.
        A message that cannot be stored as it is (bot/incoming_bounds.py) is refused with
        WebhookRejected (400) on an open channel; a platform's is skipped and logged, and
        the rest of its delivery stored: the platform would resend the same event for ever.
        """
        messages = _storable(messages)
        now = self.clock()
        not_before: list[datetime | None] | None = None
        if self.address_limiter is not None:
            waits = [self.address_limiter.acquire(m.client_address) for m in messages if m.client_address]
            if any(waits):
                logger.info("refused %d message(s) over their address's rate", len(messages))
                raise RateLimited(max(waits), by_address=True)
        if self.limiter is not None and messages:
            if refuse_over_rate:
                waits = [self.limiter.acquire(m.conversation_key) for m in messages]
                if any(waits):
                    raise RateLimited(max(waits))
            else:
                waits = [self.limiter.reserve(m.conversation_key) for m in messages]
                if any(waits):
                    logger.info("deferring %d message(s) over their sender's rate", sum(1 for w in waits if w))
                    not_before = [now + timedelta(seconds=w) if w else None for w in waits]
        try:
            async with self.db.statements() as session:  # one INSERT of all the messages
                accepted = await store.accept(session, messages, now, not_before)
        except STORAGE_ERRORS as error:
            logger.error("could not store %d incoming message(s): %s", len(messages), error)
            raise StorageUnavailable(str(error)) from error
        for message, item in zip(messages, accepted):
            if not item.duplicate:
                metrics.message_accepted(message.channel)
        if any(not a.duplicate for a in accepted):
            # The workers' wake-up is sent, not waited for: the messages are safe once
            # committed, a lost notice only leaves them to the next poll, and the platform's
            # acknowledgement no longer waits for a round trip to Redis.
            self._in_background(self.bus.publish(INBOX_TOPIC, {"count": len(accepted)}), "inbox-notice")
        return accepted

    async def record_statuses(self, updates: list[StatusUpdate]) -> int:
        """Delivery and read receipts update the history. A receipt can beat the record of
        its own send (the platform answers the send, then reports delivery at once, while
        the outbox is still committing the message's platform id): receipts that match
        nothing are tried once more a little later, then ignored."""
        updates = [u for u in map(matchable, updates) if u is not None]
        matched = await self._apply(updates)
        unmatched = [u for u, hit in zip(updates, matched) if not hit]
        if unmatched:
            self._in_background(self._apply_later(unmatched), "late-receipts")
        return sum(matched)

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)  # a task nobody refers to can be collected mid-flight
        task.add_done_callback(self._background.discard)

    async def _apply(self, updates: list[StatusUpdate]) -> list[bool]:
        if not updates:
            return []
        try:
            async with self.db.session() as session:
                matched = [await history.apply_status(session, u) for u in updates]
        except STORAGE_ERRORS as error:
            raise StorageUnavailable(str(error)) from error
        if any(matched):
            await self.bus.publish(CONSOLE_TOPIC, {"type": "delivery_status", "count": sum(matched)})
        return matched

    async def _apply_later(self, updates: list[StatusUpdate]) -> None:
        await asyncio.sleep(LATE_RECEIPT_SECONDS)
        try:
            matched = await self._apply(updates)
        except Exception:
            logger.warning("%d receipt(s) not recorded", len(updates), exc_info=True)
            return
        ignored = len(updates) - sum(matched)
        if ignored:
            logger.info("ignored %d receipt(s) for messages that are not ours", ignored)

    async def wait_processed(self, inbox_id: int, timeout: float) -> bool:
        """Wait until the worker has answered (or left for a person) this message."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self.bus.subscribe(processed_topic(inbox_id)) as notices:
            while True:
                async with self.db.statements() as session:
                    if await store.status_of(session, inbox_id) in ("done", "failed"):
                        return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                # The notice is a shortcut, sent once the worker's transaction is committed;
                # without one (lost, or Redis away) the database is asked again.
                notice = await notices.get(timeout=min(remaining, self.poll_interval * 4))
                if notice is not None and notice.get("status") in ("done", "failed"):
                    return True

    async def replies_to(self, inbox_id: int, mark_delivered: bool = False) -> list[Message]:
        # One statement on PostgreSQL (history.deliver_in_band); SQLite's two are one transaction.
        async with self.db.statements() as session:
            if mark_delivered:
                return await history.deliver_in_band(session, inbox_id)
            return await history.replies_to(session, inbox_id)


def _storable(messages: list[IncomingMessage]) -> list[IncomingMessage]:
    kept = []
    for message in messages:
        try:
            kept.append(storable(message))
        except OutOfBounds as error:
            if message.client_address is not None:  # an open channel's client, which can be told
                raise WebhookRejected(400, str(error)) from error
            logger.warning("%s: skipped an event that cannot be stored (%s); message id %r, sender %r",
                           message.channel, error, message.message_id[:80], message.sender_id[:80])
    return kept
