"""The Reputation page and the live alert banner in headless Chromium, against the running
service fed through Facebook's signed comment webhook (SQLite)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import aiohttp
import pytest
from playwright.async_api import expect

from tests.channels.test_facebook import SETTINGS, GraphAnswers, comment_body, deliver, new_id
from tests.conftest import service_env
from tests.support.browser import new_page
from tests.support.client import add_account as piped_account, cli
from tests.support.fake_platform import FakePlatform
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

ANGRY = "This is the worst company ever, my order never arrived and nobody answers. Terrible."


@pytest.fixture(scope="module")
def watched_service(model, tmp_path_factory) -> Iterator[ServiceProcess]:
    graph = FakePlatform(default=GraphAnswers()).start()
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reputation') / 'assistant.db'}"
    process = ServiceProcess(service_env(
        url, model, **SETTINGS, META_GRAPH_URL=f"{graph.url}/v19.0", BUSINESS_HOURS="always",
        ALERT_CHECK_SECONDS="0.5", ALERT_BUCKET_SECONDS="10", ALERT_BASELINE_BUCKETS="3", ALERT_MIN_AUTHORS="5",
        ALERT_QUEUE_WAITING="0", ALERT_QUEUE_OLDEST_MINUTES="0", SENDER_RATE_PER_MINUTE="0")).start(timeout=600)
    try:
        yield process
    finally:
        process.stop()
        graph.stop()


@pytest.fixture(scope="module")
def people(watched_service) -> dict[str, str]:
    passwords = {}
    for name, role in (("sue", "supervisor"), ("ann", "agent")):
        passwords[name] = piped_account(watched_service.env["DATABASE_URL"], name, role)
    return passwords


async def log_in(page, service, name: str, password: str, path: str) -> None:
    await page.goto(f"{service.url}{path}")
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login")
    await expect(page).to_have_url(f"{service.url}{path}")


async def processed(service) -> None:
    """Every accepted post stored (the service's backlog is empty)."""
    for _ in range(600):
        if (await asyncio.to_thread(service.health) or {}).get("backlog") == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the service did not process the posts in time")


async def test_a_storm_shows_in_the_banner_live_and_on_the_reputation_page(browser, watched_service, people):
    sue = await new_page(browser)
    await log_in(sue, watched_service, "sue", people["sue"], "/console/supervisor")
    banner = sue.locator("#alert-banner")
    await expect(banner).to_be_hidden()

    authors = [new_id() for _ in range(7)]
    await asyncio.gather(*(deliver(watched_service, comment_body(a, f"122154861349107313_{new_id()}", ANGRY))
                           for a in authors))
    # Live: the page that was already open shows it without a reload.
    await expect(banner).to_be_visible(timeout=60_000)
    await expect(banner).to_contain_text("Negative posts spike")
    await expect(banner).to_contain_text("customers posted negative public comments")
    await expect(banner.locator(".alert-posts li")).to_have_count(5)
    first = banner.locator(".alert-posts li a").first
    await expect(first).to_have_attribute("href", re.compile(r"^/console/conversations/\d+$"))

    await processed(watched_service)
    await sue.click("nav >> text=Reputation")
    await expect(sue).to_have_url(f"{watched_service.url}/console/reputation")
    await expect(sue.locator("#alert-rows tr.alert-active")).to_contain_text("Negative posts spike")
    # The posts that made the alert: those stored when it crossed the threshold.
    assert 5 <= await sue.locator("#reputation-alerts .alert-posts li").count() <= 7
    await expect(sue.locator("#channel-totals")).to_contain_text("facebook")
    await expect(sue.locator("#worst-posts tbody tr")).to_have_count(7)
    await expect(sue.locator(".chart svg polyline, .chart svg circle").first).to_be_attached()
    await expect(sue.locator("#worst-posts a").first).to_have_attribute(
        "href", re.compile(r"^/console/conversations/\d+$"))
    await sue.screenshot(path="docs/console-reputation.png", full_page=True)
    assert sue.errors == []

    # Customer text is text: a post with markup is shown, never run.
    await deliver(watched_service, comment_body(new_id(), f"122154861349107313_{new_id()}",
                                                "<img src=x onerror=alert(1)> terrible, awful, worst"))
    await processed(watched_service)
    await sue.reload()
    await expect(sue.locator("#worst-posts")).to_contain_text("<img src=x onerror=alert(1)>")
    assert sue.dialogs == [] and sue.errors == []


async def test_agents_get_neither_the_page_nor_the_alerts(browser, watched_service, people):
    ann = await new_page(browser)
    await log_in(ann, watched_service, "ann", people["ann"], "/console/")
    await expect(ann.locator("nav >> text=Reputation")).to_have_count(0)
    await expect(ann.locator("#alert-banner")).to_be_hidden()
    response = await ann.goto(f"{watched_service.url}/console/reputation")
    assert response.status == 403
    answer = await ann.request.get(f"{watched_service.url}/console/api/alerts")
    assert answer.status == 403 and (await answer.json())["error"]
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{watched_service.url}/console/api/alerts") as response:
            assert response.status == 401
