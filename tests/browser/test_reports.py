"""The Reports page in headless Chromium: real conversations with the running service (the
demo model answers, agents claim, reply, resolve, customers rate), then a supervisor's
report shows their figures. Agents are refused the page and its API. The screenshot for
the README is taken of a month of generated history on a web-only service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import aiohttp
import pytest
from playwright.async_api import expect

from bot.settings import PROJECT_DIR
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from tests.browser.test_console import client, login_over_http
from tests.conftest import service_env
from tests.support.browser import new_page
from tests.support.client import add_account as piped_account, cli, is_response, new_sender, say
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

DOCS = PROJECT_DIR / "docs"


@pytest.fixture(scope="module")
def reports_service(model, tmp_path_factory) -> Iterator[ServiceProcess]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports') / 'assistant.db'}"
    process = ServiceProcess(service_env(url, model, BUSINESS_HOURS="always")).start(timeout=600)
    try:
        yield process
    finally:
        process.stop()


async def log_in(page, service: ServiceProcess, name: str, password: str) -> None:
    await page.goto(f"{service.url}/console/reports")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login")
    await expect(page).to_have_url(re.compile(r"/console/reports"))
    await expect(page.locator("#reports")).to_have_attribute("data-loaded", "true")


def add_account(service: ServiceProcess, name: str, role: str) -> str:
    return piped_account(service.env["DATABASE_URL"], name, role)


async def csrf_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/console/") as response:
        return re.search(r'name="csrf-token" content="([^"]+)"', await response.text()).group(1)


async def test_a_supervisor_sees_the_figures_of_real_conversations(browser, reports_service):
    url = reports_service.url
    ann, sue = add_account(reports_service, "ann", "agent"), add_account(reports_service, "sue", "supervisor")

    # Two customers the bot answers alone, two it hands to a person.
    for text in ("hello", "what are your opening hours?"):
        assert await say(url, new_sender("rest"), text)
    rated, waiting = new_sender("rest"), new_sender("rest")
    for sender in (rated, waiting):
        replies = await say(url, sender, "I want to talk to a human")
        assert any(is_response(r.get("text", ""), "utter_handoff") for r in replies), replies

    # ann answers the first, resolves it with the rating question; the customer gives 4.
    async with client() as http:
        status, _ = await login_over_http(http, reports_service, "ann", ann)
        assert status == 303
        headers = {"X-CSRF-Token": await csrf_of(http, url)}
        async with http.get(f"{url}/console/api/queue") as response:
            queue = await response.json()
        conversation = next(row["id"] for row in queue["waiting"] if row["customer"] == rated)
        for path, body in (("claim", None), ("reply", {"text": "Hi, I'm Ann. How can I help?"}),
                           ("resolve", {"ask_satisfaction": True})):
            async with http.post(f"{url}/console/api/conversations/{conversation}/{path}", json=body or {},
                                 headers=headers) as response:
                assert response.status == 200, await response.text()
        # An agent may not read the reports.
        async with http.get(f"{url}/console/api/reports?range=today") as response:
            assert response.status == 403
        async with http.get(f"{url}/console/reports") as response:
            assert response.status == 403
    thanks = await say(url, rated, "4")
    assert any("Thank you for your rating" in r.get("text", "") for r in thanks), thanks

    page = await new_page(browser, 1280, 900)
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    await log_in(page, reports_service, "sue", sue)
    await expect(page.get_by_role("link", name="Reports")).to_have_attribute("aria-current", "page")
    await expect(page.locator('[data-figure="conversations"]')).to_have_text("4")
    await expect(page.locator('[data-figure="containment"]')).to_have_text("50.0%")
    await expect(page.locator('[data-figure="escalation"]')).to_have_text("50.0%")
    await expect(page.locator('[data-sub="escalation"]')).to_have_text("2 conversations, 2 hand-overs")
    await expect(page.locator('[data-figure="csat"]')).to_have_text("4.00 / 5")
    await expect(page.locator('[data-sub="csat"]')).to_contain_text("response rate 100.0% of 1 asked")
    # Always open (BUSINESS_HOURS=always): one reply, answered within 15 minutes; the other still waits.
    await expect(page.locator('[data-sub="within-target"]')).to_contain_text("1 of 1")
    await expect(page.locator("#agent-rows tr[data-agent='ann'] td").nth(1)).to_have_text("1")
    await expect(page.locator("#intents li").first).to_contain_text("2")
    cells = await page.locator("#heatmap td").evaluate_all("cells => cells.map(c => Number(c.dataset.count))")
    assert len(cells) == 7 * 24 and sum(cells) == 4
    # The definition of each figure is one click away.
    definition = page.locator("#kpi-containment details")
    await definition.locator("summary").click()
    await expect(definition).to_contain_text("never handed to a person")
    # Charts are drawn (Chart.js on canvases).
    assert await page.evaluate("() => !!window.Chart && !!window.Chart.getChart(document.getElementById('chart-days'))")

    # One channel, then a custom period with nothing in it.
    await page.select_option("#channel", "rest")
    await expect(page).to_have_url(re.compile(r"channel=rest"))
    await expect(page.locator("#period-label")).to_contain_text("· rest ·")
    await expect(page.locator('[data-figure="conversations"]')).to_have_text("4")
    await page.get_by_role("button", name="Custom").click()
    await page.fill("#since", "2020-01-01")
    await page.fill("#until", "2020-01-31")
    await page.click("#apply")
    await expect(page.locator('[data-figure="conversations"]')).to_have_text("0")
    await expect(page.locator("#period-label")).to_contain_text("31 days")
    await page.fill("#since", "2020-02-01")
    await page.click("#apply")
    await expect(page.locator("#toast")).to_contain_text("'since' is after 'until'")
    assert not page.errors, page.errors
    assert not [e for e in console_errors if "since" not in e and "400" not in e], console_errors

    # The API refuses bad input with a reason.
    async with client() as http:
        await login_over_http(http, reports_service, "sue", sue)
        for query, error in (("range=90d", "unknown range"), ("since=yesterday", "must be a date"),
                             ("range=today&channel=%3Cscript%3E", "channel")):
            async with http.get(f"{url}/console/api/reports?{query}") as response:
                assert response.status == 400 and error in (await response.json())["error"]


async def test_screenshot_of_a_month(browser, tmp_path):
    """docs/console-reports.png: a month of generated history on a web-only service."""
    from bench.reports import insert_history
    from bot.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'month.db'}"
    upgrade(Settings.from_mapping({"DATABASE_URL": url}).sync_database_url)
    db = Database(url)
    try:
        await insert_history(db, datetime.now(timezone.utc), 3000, 6)
    finally:
        await db.close()
    service = ServiceProcess(service_env(url, PROJECT_DIR / "models", BUSINESS_HOURS="Mon-Fri 09:00-18:00; Sat 10:00-16:00"),
                             command="web").start(timeout=120)
    try:
        password = add_account(service, "sam", "admin")
        page = await new_page(browser, 1280, 900)
        await log_in(page, service, "sam", password)
        await page.get_by_role("button", name="30 days").click()
        await expect(page.locator("#period-label")).to_contain_text("30 days")
        await expect(page.locator("#reports")).not_to_have_class(re.compile(r"\bloading\b"))
        conversations = int((await page.locator('[data-figure="conversations"]').text_content()).replace(",", ""))
        assert conversations > 2500
        await expect(page.locator("#low-confidence li a").first).to_have_attribute("href", "/console/review")
        await page.screenshot(path=str(DOCS / "console-reports.png"), full_page=True)
        assert not page.errors, page.errors
    finally:
        service.stop()
