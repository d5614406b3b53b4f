"""The alert webhook: a Slack-compatible `{"text": ...}` POST per alert, retried with the
outbox's backoff (full jitter, Retry-After honoured) until sent. The send's state is in the
alert's row, so an alert raised while the webhook is down is sent after a restart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.bus import ALERTS_TOPIC, Bus
from bot.http import ApiUnreachable, HttpClient, retry_after
from bot.messages import utcnow
from bot.outbox import backoff
from bot.reputation.watch import webhook_text
from bot.settings import Settings
from bot.storage import reputation as store
from bot.storage.database import Database
from bot.storage.models import Alert

logger = logging.getLogger(__name__)

# An alert nobody could be told of for a day is history, not news: it stays in the console.
GIVE_UP_AFTER = timedelta(hours=24)


class AlertWebhook:
    def __init__(self, db: Database, bus: Bus, http: HttpClient, settings: Settings,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.bus = bus
        self.http = http
        self.settings = settings
        self.clock = clock
        self.lease_seconds = 4 * settings.http_timeout

    async def run(self) -> None:
        async with self.bus.subscribe(ALERTS_TOPIC) as notices:
            while True:
                try:
                    await self.send_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("the alert webhook sender failed; retrying shortly")
                # A new alert wakes it at once; retries come due on the poll.
                await notices.get(timeout=max(self.settings.poll_interval, 0.5))

    async def send_due(self) -> int:
        async with self.db.session() as session:
            alerts = await store.claim_due_webhooks(session, self.clock(), self.lease_seconds)
        await asyncio.gather(*(self._send(alert) for alert in alerts))
        return len(alerts)

    async def _send(self, alert: Alert) -> None:
        body = {"text": webhook_text(alert, self.settings.public_url)}
        permanent, wait, error = False, None, None
        try:
            answer = await self.http.request_json("POST", self.settings.alert_webhook_url, json=body)
            if 200 <= answer.status < 300:
                async with self.db.session() as session:
                    await store.webhook_sent(session, alert.id, self.clock())
                logger.info("alert %s sent to the alert webhook", alert.id)
                return
            error = f"HTTP {answer.status}: {str(answer.body)[:200]}"
            # Slack answers 4xx for a revoked or wrong URL: no retry mends that.
            permanent = 400 <= answer.status < 500 and answer.status not in (408, 425, 429)
            wait = retry_after(answer.headers.get("Retry-After"), time.time())
        except ApiUnreachable as unreachable:
            error = str(unreachable)
        now = self.clock()
        async with self.db.session() as session:
            if permanent or now - alert.raised_at > GIVE_UP_AFTER:
                await store.webhook_failed(session, alert.id, error)
            else:
                delay = backoff(alert.webhook_attempts, self.settings.outbox_backoff_base,
                                self.settings.outbox_backoff_max)
                await store.webhook_retry(session, alert.id, error, now + timedelta(seconds=max(delay, wait or 0)))
        logger.warning("alert %s not sent to the alert webhook: %s (%s)", alert.id, error,
                       "given up" if permanent else "will retry")
