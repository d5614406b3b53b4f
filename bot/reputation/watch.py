"""The watch: every few seconds, a worker process counts the recent public posts and the
queue, asks the detector (bot/reputation/detector.py) and raises or ends alerts.

An alert is raised in exactly one place, `ReputationWatch._raise`: recorded in the
`alerts` table (its unique key lets one process through when several see the same spike),
announced on the bus for the console's banner, and queued for the alert webhook in the
same row (bot/reputation/webhook.py sends it, and retries, even after a restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.bus import ALERTS_TOPIC, Bus
from bot.messages import utcnow
from bot.reputation.detector import (
    Assessment,
    Counts,
    Post,
    QueueLimits,
    Rule,
    Step,
    assess,
    count,
    next_step,
    queue_overloaded,
)
from bot.settings import Settings
from bot.storage import reputation as store
from bot.storage.database import Database
from bot.storage.models import Alert

logger = logging.getLogger(__name__)

NEGATIVE_SPIKE = "negative_spike"
VOLUME_SPIKE = "volume_spike"
QUEUE_OVERLOAD = "queue_overload"
# The posts kept with an alert (and shown in its banner): enough to see what is going on.
POSTS_PER_ALERT = 20


def rules(settings: Settings) -> dict[str, Rule]:
    common = dict(bucket_seconds=settings.alert_bucket_seconds, baseline_buckets=settings.alert_baseline_buckets,
                  alpha=settings.alert_ewma_alpha)
    return {
        NEGATIVE_SPIKE: Rule(**common, min_count=settings.alert_min_authors, multiplier=settings.alert_multiplier,
                             min_share=settings.alert_min_negative_share),
        VOLUME_SPIKE: Rule(**common, min_count=settings.alert_volume_min_authors,
                           multiplier=settings.alert_volume_multiplier),
    }


class ReputationWatch:
    def __init__(self, db: Database, bus: Bus, settings: Settings, clock: Callable[[], datetime] = utcnow,
                 on_alert: Callable[[str], None] = lambda kind: None) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.clock = clock
        # Told the kind of every alert this process raises (for metrics).
        self.on_alert = on_alert
        self.rules = rules(settings)
        self.cooldown = timedelta(seconds=settings.alert_cooldown_seconds)
        self.queue_limits = QueueLimits(settings.alert_queue_waiting, settings.alert_queue_oldest_minutes)
        self.lookback = timedelta(seconds=settings.alert_bucket_seconds * (settings.alert_baseline_buckets + 1))

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the reputation watch could not check; trying again shortly")
            await asyncio.sleep(self.settings.alert_check_seconds)

    async def check(self) -> list[Alert]:
        """One look: the alerts raised by this call (ended ones are only recorded)."""
        now = self.clock()
        async with self.db.statements() as session:
            rows = await store.public_posts(session, now - self.lookback)
            waiting, oldest = await store.queue_load(session)
            active = {alert.kind: alert for alert in await store.active_alerts(session)}
        negative_score = self.settings.alert_negative_score
        posts = [Post(at=row.at, author=row.customer_id, spam=row.moderation == "spam",
                      negative=row.sentiment is not None and row.sentiment <= negative_score) for row in rows]
        raised = []
        for kind, rule in self.rules.items():
            counts = count(posts, now, rule, negative_only=kind == NEGATIVE_SPIKE)
            assessment = assess(counts, rule)
            step = next_step(assessment.spike, _since(active.get(kind)), now, self.cooldown)
            if step is Step.RAISE and kind == VOLUME_SPIKE and (NEGATIVE_SPIKE in active or raised):
                # A storm of angry posts is a rise in volume too: its one alert says so already.
                step = Step.KEEP
            if step is Step.RAISE:
                alert = await self._raise(kind, now, counts.window_start, counts.window_end,
                                          _spike_figures(counts, assessment),
                                          await self._posts(kind, counts), _spike_summary(kind, counts, assessment))
                raised += [alert] if alert else []
            elif step is Step.END:
                await self._end(active[kind], now)
        oldest_wait = (now - oldest).total_seconds() if oldest is not None else None
        overloaded = queue_overloaded(waiting, oldest_wait, self.queue_limits)
        step = next_step(overloaded, _since(active.get(QUEUE_OVERLOAD)), now, self.cooldown)
        if step is Step.RAISE:
            figures = {"waiting": waiting, "oldest_wait_minutes": round((oldest_wait or 0) / 60, 1),
                       "limit_waiting": self.queue_limits.waiting,
                       "limit_oldest_minutes": self.queue_limits.oldest_minutes}
            alert = await self._raise(QUEUE_OVERLOAD, now, oldest or now, now, figures, [], _queue_summary(figures))
            raised += [alert] if alert else []
        elif step is Step.END:
            await self._end(active[QUEUE_OVERLOAD], now)
        return raised

    async def _posts(self, kind: str, counts: Counts) -> list[dict[str, Any]]:
        # The volume alert shows every kind of post, the least happy first.
        score = self.settings.alert_negative_score if kind == NEGATIVE_SPIKE else 1.0
        async with self.db.statements() as session:
            details = await store.negative_posts(session, counts.window_start, counts.window_end, score,
                                                 POSTS_PER_ALERT)
        return [d.to_json() for d in details]

    async def _raise(self, kind: str, now: datetime, window_start: datetime, window_end: datetime,
                     figures: dict[str, Any], posts: list[dict[str, Any]], summary: str) -> Alert | None:
        """The one place an alert is raised."""
        async with self.db.session() as session:
            alert = await store.raise_alert(session, kind=kind, now=now, window_start=window_start,
                                            window_end=window_end, figures=figures, posts=posts, summary=summary,
                                            webhook=bool(self.settings.alert_webhook_url))
        if alert is None:
            return None  # another process raised it first
        logger.warning("alert %s raised: %s", kind, summary)
        self.on_alert(kind)
        await self.bus.publish(ALERTS_TOPIC, {"type": "raised", "id": alert.id, "kind": kind})
        return alert

    async def _end(self, alert: Alert, now: datetime) -> None:
        async with self.db.session() as session:
            ended = await store.end_alert(session, alert.id, now)
        if ended:
            logger.info("alert %s over: %s", alert.kind, alert.summary)
            await self.bus.publish(ALERTS_TOPIC, {"type": "ended", "id": alert.id, "kind": alert.kind})


def _since(alert: Alert | None) -> datetime | None:
    return alert.raised_at if alert is not None else None


def _spike_figures(counts: Counts, assessment: Assessment) -> dict[str, Any]:
    return {"authors": counts.current, "baseline": assessment.baseline, "threshold": assessment.threshold,
            "share": assessment.share, "public_authors": counts.current_total, "history": list(counts.history)}


def _spike_summary(kind: str, counts: Counts, assessment: Assessment) -> str:
    period = _period((counts.window_end - counts.window_start).total_seconds())
    if kind == NEGATIVE_SPIKE:
        return (f"{counts.current} customers posted negative public comments in the last {period} "
                f"({round(100 * (assessment.share or 0))}% of public posters; usually {assessment.baseline:g}).")
    return f"{counts.current} customers posted publicly in the last {period} (usually {assessment.baseline:g})."


def _period(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} seconds"
    minutes = seconds / 60
    return f"{minutes:g} minutes" if minutes < 120 else f"{minutes / 60:g} hours"


def _queue_summary(figures: dict[str, Any]) -> str:
    return (f"The queue is overloaded: {figures['waiting']} conversations waiting, the oldest for "
            f"{figures['oldest_wait_minutes']:g} minutes.")


def webhook_text(alert: Alert, public_url: str) -> str:
    """The Slack message: the summary, and the worst posts with a link to each conversation."""
    lines = [f":rotating_light: {alert.summary}"]
    for post in alert.posts[:5]:
        text = " ".join(str(post["text"]).split())
        text = text if len(text) <= 140 else text[:139] + "…"
        lines.append(f"• {post['channel']} · {slack_escaped(str(post['author']))}: “{slack_escaped(text)}” "
                     f"<{public_url}/console/conversations/{post['conversation_id']}|open>")
    lines.append(f"<{public_url}/console/reputation|Reputation in the console>")
    return "\n".join(lines)


def slack_escaped(text: str) -> str:
    """Customer text as text in Slack: its control sequences (`<!channel>`, `<url|label>`)
    start with "<", so a post could otherwise ping everyone or disguise a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
