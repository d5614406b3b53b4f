"""The outbox sender: delivers committed replies through their channel, retrying with
exponential backoff and jitter, honouring Retry-After, and recording every outcome."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot import metrics
from bot.bus import CONSOLE_TOPIC, OUTBOX_TOPIC, Bus
from bot.messages import OutgoingMessage, utcnow
from bot.settings import Settings
from bot.storage import history, outbox
from bot.storage.database import Database
from bot.storage.models import OutboxItem
from channels.base import Channel, Delivery, SendResult

logger = logging.getLogger(__name__)


def backoff(attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Full jitter: a random wait up to base * 2^(attempt-1), capped."""
    return rng() * min(cap, base * 2 ** max(attempt - 1, 0))


class OutboxSender:
    def __init__(self, db: Database, channels: Mapping[str, Channel], bus: Bus, settings: Settings,
                 clock: Callable[[], datetime] = utcnow, lease_seconds: float | None = None) -> None:
        self.db = db
        self.channels = channels
        self.bus = bus
        self.settings = settings
        self.clock = clock
        # A send in flight is a few platform calls, each bounded by HTTP_TIMEOUT; a claim
        # older than that belongs to a process that died, and another one sends instead.
        self.lease_seconds = lease_seconds if lease_seconds is not None else 4 * settings.http_timeout
        self._wake = asyncio.Event()

    async def run(self) -> None:
        async with self.bus.subscribe(OUTBOX_TOPIC) as notices:
            waker = asyncio.create_task(self._wake_on(notices))
            try:
                while True:
                    try:
                        sent = await self.send_due()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        logger.exception("outbox sender failed; retrying shortly")
                        sent = 0
                        await asyncio.sleep(self.settings.poll_interval)
                    if not sent:
                        self._wake.clear()
                        try:
                            await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
                        except asyncio.TimeoutError:
                            pass
            finally:
                waker.cancel()

    async def _wake_on(self, notices) -> None:
        while True:
            if await notices.get() is not None:
                self._wake.set()

    async def send_due(self, limit: int = 32) -> int:
        async with self.db.session() as session:
            items = await outbox.claim_due(session, self.clock(), self.lease_seconds, limit)
            last_seen = await outbox.customer_last_seen(session, {i.conversation_id for i in items}) if items else {}
        if items:
            await asyncio.gather(*(self._deliver(item, last_seen.get(item.conversation_id)) for item in items))
        return len(items)

    async def _deliver(self, item: OutboxItem, customer_last_message_at: datetime | None) -> None:
        message = OutgoingMessage.from_json(item.payload)
        channel = self.channels.get(item.channel)
        if channel is None:
            result = SendResult.failed(f"channel {item.channel} is not configured")
        else:
            try:
                result = await channel.send(Delivery(message, item.message_id, item.idempotency_key, item.attempts,
                                                     customer_last_message_at, item.parts_sent))
            except Exception as error:  # a bug or a network error the channel did not map
                logger.exception("sending outbox item %s through %s failed", item.id, item.channel)
                result = SendResult.retry(repr(error))
        await self._record(item, result, message.recipient_id)

    async def _record(self, item: OutboxItem, result: SendResult, recipient_id: str) -> None:
        now = self.clock()
        give_up = not result.ok and (result.permanent or item.attempts >= self.settings.outbox_max_attempts)
        async with self.db.session() as session:
            if result.ok:
                await outbox.mark_sent(session, item, result.platform_message_id, now)
                if result.recipient_id and result.recipient_id != recipient_id:
                    await history.link_messaging_id(session, item.conversation_id, result.recipient_id)
            elif give_up:
                error = result.error or "failed"
                if result.parts_sent:  # the agent should know the customer got the beginning
                    error += f" (after {result.parts_sent} of the reply's parts were delivered)"
                await outbox.mark_failed(session, item, error, result.parts_sent)
                await history.add_event(session, item.conversation_id, "delivery_failed",
                                        {"message_id": item.message_id, "error": error,
                                         "attempts": item.attempts}, now)
            else:
                wait = backoff(item.attempts, self.settings.outbox_backoff_base, self.settings.outbox_backoff_max)
                if result.retry_after is not None:
                    wait = max(wait, result.retry_after)
                await outbox.schedule_retry(session, item, result.error or "retry", now + timedelta(seconds=wait),
                                            result.parts_sent)
        # Counted once committed: a send whose outcome was not recorded is tried again.
        metrics.outbox_delivery(item.channel, "sent" if result.ok else ("failed" if give_up else "retried"))
        if result.ok and item.accepted_at is not None:
            metrics.replied(item.channel, (now - item.accepted_at).total_seconds())
        if not result.ok:
            logger.warning("outbox item %s via %s: %s (%s)", item.id, item.channel, result.error,
                           "given up" if give_up else "will retry")
        await self.bus.publish(CONSOLE_TOPIC, {"type": "delivery", "conversation_id": item.conversation_id,
                                               "message_id": item.message_id,
                                               "status": "sent" if result.ok else ("failed" if give_up else "retrying")})
