"""The reputation watch in the running service, fed through Facebook's real webhook with
signed page-comment payloads, alerting a fake Slack webhook on loopback; SQLite and
PostgreSQL.

The windows are seconds here instead of minutes (ALERT_BUCKET_SECONDS=4, three buckets of
baseline), so each scenario first waits for the posts of the one before to leave the
lookback. The volume rule's minimum (14 authors in 4 s) is above the busy day's pace of
two new commenters a second, and its baseline keeps up with that pace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.storage import reputation as store
from bot.storage.database import Database
from tests.conftest import BACKENDS, service_env
from tests.channels.test_facebook import SETTINGS, GraphAnswers, comment_body, deliver, new_id
from tests.support.fake_platform import FakePlatform, Recorded
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BUCKET = 4.0
LOOKBACK = BUCKET * 4
ANGRY = "This is the worst company ever, my order never arrived and nobody answers. Terrible."
GRUMPY = "I am disappointed, my order is late again"
CALM = "what are your opening hours?"
SPAM = "Worst brand ever, total scam. Click here for free followers, promo in bio"
HOOK = "/services/T0001/B0001/alerts"


class Slack(FakePlatform):
    """A Slack incoming webhook: "ok", or 503 while it is down."""

    def __init__(self) -> None:
        self.down = False
        super().__init__(default=lambda recorded: (503, "service unavailable") if self.down else (200, "ok"))

    def alerts(self) -> list[Recorded]:
        return self.received(HOOK)


@pytest.fixture(scope="module")
def graph():
    server = FakePlatform(default=GraphAnswers()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def slack():
    server = Slack().start()
    yield server
    server.stop()


def watch_settings(graph, slack) -> dict[str, str]:
    return {**SETTINGS, "META_GRAPH_URL": f"{graph.url}/v19.0", "ALERT_WEBHOOK_URL": f"{slack.url}{HOOK}",
            "ALERT_CHECK_SECONDS": "0.5", "ALERT_BUCKET_SECONDS": str(BUCKET), "ALERT_BASELINE_BUCKETS": "3",
            "ALERT_MIN_AUTHORS": "5", "ALERT_MULTIPLIER": "3", "ALERT_MIN_NEGATIVE_SHARE": "0.3",
            "ALERT_VOLUME_MIN_AUTHORS": "14", "ALERT_VOLUME_MULTIPLIER": "4", "ALERT_COOLDOWN_SECONDS": "600",
            "ALERT_QUEUE_WAITING": "0", "ALERT_QUEUE_OLDEST_MINUTES": "0", "SENDER_RATE_PER_MINUTE": "0",
            "OUTBOX_BACKOFF_BASE": "0.05", "OUTBOX_BACKOFF_MAX": "0.5", "POLL_INTERVAL": "0.1",
            "BUSINESS_HOURS": "always"}


def started(env: dict[str, str], port: int | None = None) -> ServiceProcess:
    process = ServiceProcess(env)
    if port is not None:
        process.port = port  # the same service again: its settings name the port
    # Generous: the model loads slowly on a busy machine.
    return process.start(timeout=600)


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, model, tmp_path_factory, graph, slack) -> Iterator[ServiceProcess]:
    with backend_url(request.param, tmp_path_factory) as url:
        process = started(service_env(url, model, **watch_settings(graph, slack)))
        # The fake Slack lives for the module: what the other backend's service sent is not this one's.
        slack.clear()
        try:
            yield process
        finally:
            process.stop()


@contextmanager
def backend_url(backend: str, tmp_path_factory) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('watch') / 'assistant.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


async def comment(service, author: str, text: str) -> None:
    body = comment_body(author, f"122154861349107313_{new_id()}", text)
    answer = await deliver(service, body)
    assert answer["http_status"] == 200 and answer["accepted"] == 1, answer


async def alerts(service) -> list:
    db = Database(service.env["DATABASE_URL"])
    try:
        async with db.statements() as session:
            return await store.recent_alerts(session)
    finally:
        await db.close()


async def settled(service, extra: float = 2.0) -> None:
    """Every accepted post processed, then a few of the watch's looks."""
    deadline = time.monotonic() + 120
    while (await asyncio.to_thread(service.health) or {}).get("backlog") != 0:
        assert time.monotonic() < deadline, "the service did not process the posts in time"
        await asyncio.sleep(0.2)
    await asyncio.sleep(extra)


async def quiet(seconds: float = LOOKBACK + 1) -> None:
    """Let the posts of the previous scenario leave the watch's window and baseline."""
    await asyncio.sleep(seconds)


async def nothing_raised(service, slack) -> None:
    await settled(service)
    assert await alerts(service) == [] and slack.alerts() == []


async def test_a_busy_but_calm_day_does_not_alert(service, slack):
    # Two new commenters a second for 20 seconds, one in ten of them unhappy.
    for second in range(20):
        await asyncio.gather(*(comment(service, new_id(), GRUMPY if (2 * second + n) % 10 == 9 else CALM)
                               for n in range(2)))
        await asyncio.sleep(0.9)
    await nothing_raised(service, slack)


async def test_one_angry_customer_writing_twenty_times_does_not_alert(service, slack):
    await quiet()
    furious = new_id()
    await asyncio.gather(*(comment(service, furious, f"{ANGRY} ({n})") for n in range(20)))
    await nothing_raised(service, slack)


async def test_a_storm_of_spam_does_not_alert(service, slack):
    await quiet()
    await asyncio.gather(*(comment(service, new_id(), SPAM) for _ in range(12)))
    await nothing_raised(service, slack)


async def test_a_storm_of_angry_comments_alerts_once_in_time_and_reaches_the_webhook(service, slack):
    await quiet()
    authors = [new_id() for _ in range(8)]
    started = time.monotonic()
    await asyncio.gather(*(comment(service, author, ANGRY) for author in authors))
    (sent,) = await asyncio.to_thread(slack.wait_for, lambda got: len([r for r in got if HOOK in r.path]) >= 1, 60)
    assert time.monotonic() - started < 60
    text = slack.alerts()[0].json["text"]
    assert "customers posted negative public comments" in text and "/console/conversations/" in text
    assert any(f"Customer {author}" in text for author in authors)

    # The storm goes on: still the one alert.
    await asyncio.gather(*(comment(service, new_id(), ANGRY) for _ in range(6)))
    await settled(service, extra=3)
    (alert,) = await alerts(service)
    assert alert.kind == "negative_spike" and alert.ended_at is None and alert.webhook_status == "sent"
    assert alert.figures["authors"] >= 5
    assert {p["author"] for p in alert.posts} >= {f"Customer {a}" for a in authors[:5]}
    assert len(slack.alerts()) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_alert_raised_while_the_webhook_is_down_is_sent_after_a_restart(backend, model, graph,
                                                                                  tmp_path_factory):
    slack = Slack().start()
    slack.down = True
    try:
        with backend_url(backend, tmp_path_factory) as url:
            service = started(service_env(url, model, **watch_settings(graph, slack)))
            try:
                await asyncio.gather(*(comment(service, new_id(), ANGRY) for _ in range(8)))
                await asyncio.to_thread(slack.wait_for, lambda got: len([r for r in got if HOOK in r.path]) >= 2, 60)
                (alert,) = await alerts(service)
                assert alert.webhook_status in ("pending", "sending")
            finally:
                service.stop()
            tried = len(slack.alerts())

            slack.down = False
            again = started(service.env, port=service.port)
            try:
                await asyncio.to_thread(slack.wait_for,
                                        lambda got: len([r for r in got if HOOK in r.path]) > tried, 60)
                await asyncio.sleep(2)
                (alert,) = await alerts(again)
                assert alert.webhook_status == "sent" and alert.webhook_attempts >= tried + 1
                assert len(slack.alerts()) == tried + 1  # the failed tries, then exactly one success
                assert "customers posted negative public comments" in slack.alerts()[-1].json["text"]
            finally:
                again.stop()
    finally:
        slack.stop()
