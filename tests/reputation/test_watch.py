"""The watch on both backends with a clock the test moves: what it reads from the history,
the alerts it records (once per spike, even with several processes), the queue's alert,
the console's series, and the webhook's retries against a fake Slack on loopback."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from bot.bus import ALERTS_TOPIC, LocalBus
from bot.http import HttpClient
from bot.messages import IncomingMessage
from bot.reputation.watch import NEGATIVE_SPIKE, QUEUE_OVERLOAD, VOLUME_SPIKE, ReputationWatch
from bot.reputation.webhook import AlertWebhook
from bot.settings import Settings
from bot.storage import history
from bot.storage import reputation as store
from bot.storage.database import Database
from bot.storage.queue import hand_to_queue
from tests.support.fake_platform import FakePlatform, Scripted

START = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
ANGRY = "This is the worst company ever, my order never arrived and nobody answers. Terrible."
CALM = "Do you ship to Norway?"
_ids = itertools.count(1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(**overrides: str) -> Settings:
    return Settings.from_mapping({"ALERT_BUCKET_SECONDS": "60", "ALERT_BASELINE_BUCKETS": "5",
                                  "ALERT_MIN_AUTHORS": "5", "ALERT_VOLUME_MIN_AUTHORS": "0",
                                  "ALERT_COOLDOWN_SECONDS": "120", "ALERT_QUEUE_WAITING": "0",
                                  "ALERT_QUEUE_OLDEST_MINUTES": "0", "PUBLIC_URL": "https://help.example.com",
                                  **overrides})


async def post(db: Database, author: str, text: str, at: datetime, *, channel: str = "facebook",
               score: float | None = None, moderation: str | None = None, public: bool = True) -> int:
    from bot.sentiment import SentimentScorer

    message = IncomingMessage(channel=channel, sender_id=author, sender_name=author.title(), text=text,
                              message_id=f"c{next(_ids)}", is_public=public, thread_id="post_1")
    async with db.session() as session:
        customer = await history.customer_for(session, channel, author, author.title(), at)
        conversation = await history.open_conversation(session, customer, channel, at)
        record = await history.record_incoming(session, conversation, None, message,
                                               score if score is not None else SentimentScorer().score(text), at,
                                               retried=False)
        record.moderation = moderation
        return conversation.id


async def test_a_storm_raises_one_alert_with_its_posts_and_it_ends_after_the_cooldown(db):
    clock = Clock(START)
    bus = LocalBus()
    watch = ReputationWatch(db, bus, settings(ALERT_WEBHOOK_URL="http://127.0.0.1:9/hook"), clock)
    for n in range(3):  # a quiet morning: one unhappy customer every few minutes
        await post(db, f"early{n}", ANGRY, START - timedelta(minutes=4 - n))
    assert await watch.check() == []
    async with bus.subscribe(ALERTS_TOPIC) as notices:
        conversations = [await post(db, f"storm{n}", ANGRY, START + timedelta(seconds=n)) for n in range(6)]
        clock.now = START + timedelta(seconds=10)
        (alert,) = await watch.check()
        assert (await notices.get(timeout=1))["kind"] == NEGATIVE_SPIKE
    assert alert.kind == NEGATIVE_SPIKE and alert.figures["authors"] == 6 and alert.webhook_status == "pending"
    assert {p["conversation_id"] for p in alert.posts} == set(conversations)
    assert all(p["sentiment"] <= -0.05 and p["channel"] == "facebook" for p in alert.posts)
    assert "6 customers posted negative public comments" in alert.summary

    for n in range(6, 12):  # the storm goes on: no second alert
        await post(db, f"storm{n}", ANGRY, START + timedelta(seconds=10 + n))
        clock.now = START + timedelta(seconds=20 + n)
        assert await watch.check() == []
    clock.now = START + timedelta(minutes=10)  # calm again, and past the cooldown
    assert await watch.check() == []
    async with db.session() as session:
        assert await store.active_alerts(session) == []
        (ended,) = await store.recent_alerts(session)
    assert ended.id == alert.id and ended.ended_at == clock.now


async def test_one_angry_customer_spam_and_a_busy_calm_hour_raise_nothing(db):
    clock = Clock(START + timedelta(seconds=30))
    watch = ReputationWatch(db, LocalBus(), settings(ALERT_VOLUME_MIN_AUTHORS="200"), clock)
    for n in range(20):
        await post(db, "furious", ANGRY, START + timedelta(seconds=n))
    for n in range(30):
        await post(db, f"spammer{n}", "You are all scammers, terrible, click here http://a.xyz http://b.xyz",
                   START + timedelta(seconds=n), moderation="spam")
    for n in range(40):
        await post(db, f"calm{n}", CALM, START + timedelta(seconds=n))
    for n in range(6):  # the usual few unhappy ones of a busy hour
        await post(db, f"grumpy{n}", ANGRY, START + timedelta(seconds=n))
    assert await watch.check() == []
    async with db.session() as session:
        assert await store.recent_alerts(session) == []


async def test_two_processes_seeing_the_same_spike_raise_it_once(db, database_url):
    for n in range(8):
        await post(db, f"storm{n}", ANGRY, START + timedelta(seconds=n))
    clock = Clock(START + timedelta(seconds=20))
    others = [Database(database_url) for _ in range(3)]
    try:
        watches = [ReputationWatch(other, LocalBus(), settings(), clock) for other in others]
        raised = await asyncio.gather(*(w.check() for w in watches))
    finally:
        for other in others:
            await other.close()
    assert sum(len(r) for r in raised) == 1
    async with db.session() as session:
        assert len(await store.recent_alerts(session)) == 1


async def test_a_sudden_jump_in_public_volume_is_its_own_alert(db):
    clock = Clock(START + timedelta(seconds=30))
    watch = ReputationWatch(db, LocalBus(), settings(ALERT_VOLUME_MIN_AUTHORS="10"), clock)
    for n in range(12):
        await post(db, f"fan{n}", CALM, START + timedelta(seconds=n))
    (alert,) = await watch.check()
    assert alert.kind == VOLUME_SPIKE and alert.figures["authors"] == 12 and len(alert.posts) == 12


async def test_an_overloaded_queue_raises_one_alert(db):
    clock = Clock(START)
    watch = ReputationWatch(db, LocalBus(), settings(ALERT_QUEUE_WAITING="3", ALERT_QUEUE_OLDEST_MINUTES="20"),
                            clock)
    async with db.session() as session:
        for n in range(3):
            customer = await history.customer_for(session, "rest", f"waiting{n}", None, START)
            conversation = await history.open_conversation(session, customer, "rest", START)
            await hand_to_queue(session, conversation, "customer_request", 0, START - timedelta(minutes=n))
    assert await watch.check() == []  # three waiting, the oldest for two minutes: fine
    clock.now = START + timedelta(minutes=19)
    (alert,) = await watch.check()
    assert alert.kind == QUEUE_OVERLOAD and alert.figures["waiting"] == 3 and alert.figures["oldest_wait_minutes"] == 21
    clock.now += timedelta(minutes=1)
    assert await watch.check() == []


async def test_the_console_series_per_channel_hour_and_day(db):
    await post(db, "a", CALM, START + timedelta(minutes=5), score=0.5)
    await post(db, "b", ANGRY, START + timedelta(minutes=10), score=-0.8)
    await post(db, "c", ANGRY, START + timedelta(hours=1, minutes=1), score=-0.4, channel="instagram")
    await post(db, "d", "free followers click here", START + timedelta(minutes=3), score=-0.9, moderation="spam")
    await post(db, "e", ANGRY, START + timedelta(minutes=3), score=-0.9, public=False)  # a private message
    async with db.session() as session:
        hourly = await store.sentiment_series(session, START - timedelta(hours=1), "hour", -0.05)
        daily = await store.sentiment_series(session, START - timedelta(days=1), "day", -0.05)
        worst = await store.negative_posts(session, START, START + timedelta(hours=2), -0.05, 10)
    assert [(p.channel, p.bucket, p.volume, p.negative, p.mean) for p in hourly] == [
        ("facebook", START, 2, 1, -0.15), ("instagram", START + timedelta(hours=1), 1, 1, -0.4)]
    assert [(p.channel, p.bucket.date(), p.volume, p.negative) for p in daily] == [
        ("facebook", START.date(), 2, 1), ("instagram", START.date(), 1, 1)]
    assert [(p.author, p.sentiment) for p in worst] == [("B", -0.8), ("C", -0.4)]


@pytest.fixture
def slack():
    server = FakePlatform(default=lambda recorded: (200, "ok")).start()
    yield server
    server.stop()


async def test_the_webhook_retries_until_slack_takes_the_alert(db, slack):
    clock = Clock(START + timedelta(seconds=20))
    config = settings(ALERT_WEBHOOK_URL=f"{slack.url}/services/T000/B000/XXXX", OUTBOX_BACKOFF_BASE="0.01",
                      OUTBOX_BACKOFF_MAX="0.01")
    for n in range(6):
        conversation = await post(db, f"storm{n}", ANGRY, START + timedelta(seconds=n))
    (alert,) = await ReputationWatch(db, LocalBus(), config, clock).check()
    slack.script("/services/", Scripted(503, "unavailable"), Scripted(429, "slow down", {"Retry-After": "0"}))
    http = HttpClient(5)
    try:
        sender = AlertWebhook(db, LocalBus(), http, config, clock)
        for _ in range(3):
            clock.now += timedelta(seconds=1)
            assert await sender.send_due() == 1
        clock.now += timedelta(seconds=1)
        assert await sender.send_due() == 0  # sent: never again
    finally:
        await http.close()
    first, second, third = slack.received("/services/")
    assert first.body == second.body == third.body
    text = third.json["text"]
    assert set(third.json) == {"text"} and "6 customers posted negative public comments" in text
    assert f"https://help.example.com/console/conversations/{conversation}|open>" in text
    async with db.session() as session:
        (sent,) = await store.recent_alerts(session)
    assert sent.webhook_status == "sent" and sent.webhook_attempts == 3 and sent.webhook_error is None


async def test_a_webhook_that_refuses_the_alert_is_given_up(db, slack):
    clock = Clock(START + timedelta(seconds=20))
    config = settings(ALERT_WEBHOOK_URL=f"{slack.url}/services/revoked")
    for n in range(6):
        await post(db, f"storm{n}", ANGRY, START + timedelta(seconds=n))
    await ReputationWatch(db, LocalBus(), config, clock).check()
    slack.script("/services/revoked", Scripted(404, "no_service"))
    http = HttpClient(5)
    try:
        assert await AlertWebhook(db, LocalBus(), http, config, clock).send_due() == 1
    finally:
        await http.close()
    async with db.session() as session:
        (alert,) = await store.recent_alerts(session)
    assert alert.webhook_status == "failed" and "404" in alert.webhook_error


async def test_a_storm_of_angry_posts_is_one_alert_not_also_a_volume_alert(db):
    clock = Clock(START + timedelta(seconds=30))
    watch = ReputationWatch(db, LocalBus(), settings(ALERT_VOLUME_MIN_AUTHORS="10"), clock)
    for n in range(6):
        await post(db, f"first{n}", ANGRY, START + timedelta(seconds=n))
    (alert,) = await watch.check()
    for n in range(10):
        await post(db, f"more{n}", ANGRY, START + timedelta(seconds=10 + n))
    assert await watch.check() == []
    async with db.session() as session:
        assert [a.kind for a in await store.recent_alerts(session)] == [NEGATIVE_SPIKE]
