"""`GET /metrics` of the real service (`bot run`, its model in a child process) on SQLite and
PostgreSQL, scraped before and after real traffic: each counter moves by exactly what was
sent, the state figures agree with the database, and the Grafana dashboard asks only for
names the service exposes."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.settings import PROJECT_DIR
from bot.storage.database import Database
from bot.storage.queue import waiting
from tests.e2e.test_scaleout import BRAND, SECRET, Sent, new_senders, post_dms, wait_answered
from tests.support.client import new_sender, say
from tests.support.metrics import TOKEN, get_metrics, moved, scrape, total, value

pytestmark = [pytest.mark.slow]

QUESTIONS = ("what are your opening hours?", "how much is shipping?", "do you ship internationally?",
             "what is your returns policy?", "what payment methods do you accept?", "where are your stores?",
             "how long does delivery take?")


@pytest.fixture(scope="module")
def service(start_service, fake_platform):
    return start_service(METRICS_TOKEN=TOKEN, TWITTER_CONSUMER_SECRET=SECRET, TWITTER_ACCESS_TOKEN="token",
                         TWITTER_USER_ID=BRAND, TWITTER_API_URL=fake_platform.url, OUTBOX_BACKOFF_BASE="0.05",
                         OUTBOX_BACKOFF_MAX="0.5")


async def test_metrics_are_refused_without_the_token(service):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}):
        status, text = await get_metrics(service.url, headers)
        assert status == 401, headers
        assert "METRICS_TOKEN" in json.loads(text)["error"]
        assert "assistant_" not in text


async def test_rest_traffic_moves_each_counter_by_exactly_what_was_sent(service):
    before = await scrape(service.url)
    for question in QUESTIONS:
        assert await say(service.url, new_sender("metrics"), question)
    waiting_customer = new_sender("metrics")
    assert await say(service.url, waiting_customer, "I want to talk to a human")
    # Said again while waiting: accepted, not answered by the bot, and not handed over twice.
    assert await say(service.url, waiting_customer, "hello? anyone there?") == []
    after = await scrape(service.url)

    sent = len(QUESTIONS) + 2
    assert moved(before, after, "assistant_messages_accepted_total", channel="rest") == sent
    assert moved(before, after, "assistant_webhook_ack_seconds_count", channel="rest") == sent
    # Every message but the last got its answer in the response.
    assert moved(before, after, "assistant_reply_seconds_count", channel="rest") == sent - 1
    assert moved(before, after, "assistant_webhook_ack_seconds_bucket", channel="rest", le="+Inf") == sent
    assert moved(before, after, "assistant_handovers_total", reason="customer_request") == 1
    assert total(after, "assistant_handovers_total") - total(before, "assistant_handovers_total") == 1

    # The state, read from the database at the scrape, says what the database says.
    db = Database(service.env["DATABASE_URL"])
    try:
        async with db.session() as session:
            queued = [entry for entry in await waiting(session, ("queued",))]
    finally:
        await db.close()
    assert total(after, "assistant_queue_waiting") == len(queued) >= 1
    # Asking for a person raises the priority (+25, bot/handoff.py) above small talk's.
    assert value(after, "assistant_queue_waiting", band="raised") >= 1
    assert value(after, "assistant_inbox_backlog", status="pending") == 0
    assert value(after, "assistant_inbox_backlog", status="processing") == 0
    assert value(after, "assistant_state_up") == 1
    assert value(after, "assistant_model_info", version=service.health()["model"]) == 1


async def test_platform_traffic_counts_acknowledgements_sends_and_reply_times(service, fake_platform):
    before = await scrape(service.url)
    first, second = new_senders(2)
    batch = [Sent(first, f"dm-{first}-0", QUESTIONS[0]), Sent(second, f"dm-{second}-0", QUESTIONS[1])]
    alone = [Sent(first, f"dm-{first}-1", QUESTIONS[2])]
    async with aiohttp.ClientSession() as http:
        assert await post_dms(http, service.url, batch) == 200
        assert await post_dms(http, service.url, alone) == 200
        assert await post_dms(http, service.url, alone) == 200  # the platform redelivers: not counted again
    await wait_answered(service.env["DATABASE_URL"], [m.message_id for m in batch + alone])
    after = await scrape(service.url)

    assert moved(before, after, "assistant_messages_accepted_total", channel="twitter") == 3
    assert moved(before, after, "assistant_webhook_ack_seconds_count", channel="twitter") == 3  # three deliveries
    # One reply time per message: its first reply's send.
    assert moved(before, after, "assistant_reply_seconds_count", channel="twitter") == 3
    sends = [r for r in fake_platform.received("/2/dm_conversations/with/")
             if r.path.split("/")[4] in (first, second)]
    assert moved(before, after, "assistant_outbox_deliveries_total", channel="twitter", outcome="sent") == len(sends)
    assert len(sends) >= 3
    assert moved(before, after, "assistant_outbox_deliveries_total", channel="twitter", outcome="failed") == 0
    assert value(after, "assistant_outbox_items", status="pending") == 0


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads((PROJECT_DIR / "docs" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    functions = {"sum", "rate", "increase", "histogram_quantile", "max", "min", "count", "avg", "irate",
                 "clamp_min", "time", "vector", "or", "and", "unless"}
    names = set()
    for expr in exprs:
        # Label matchers, grouping clauses and ranges name labels and durations, not metrics.
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
        bare = re.sub(r"(?<![\w:])\d[\d.]*(e[+-]?\d+)?", "", bare)  # numbers (0.99, 1e9)
        names |= {name for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare) if name not in functions}
    return names


def exposed_names(text: str) -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ())}
        names |= {sample.name for sample in family.samples}
    return names


async def test_the_grafana_dashboard_asks_only_for_exposed_names(service):
    assert await say(service.url, new_sender("metrics"), QUESTIONS[0])
    status, text = await get_metrics(service.url, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    wanted = dashboard_metric_names()
    assert {name for name in wanted if name.startswith("assistant_")}, wanted
    assert wanted <= exposed_names(text), wanted - exposed_names(text)
