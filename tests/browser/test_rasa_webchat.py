"""The real rasa-webchat widget (npm, vendored in tests/browser/vendor/rasa-webchat/) on a
brand's page of another origin, in headless Chromium, against the running service over
socket.io: an answer with buttons, a button pressed, a hand-over, and an agent's reply from
the console's API arriving in the widget."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect

from bot.storage.database import Database
from bot.storage.models import InboxItem
from tests.support.client import add_account, responses
from tests.support.process import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

VENDOR = Path(__file__).resolve().parent / "vendor" / "rasa-webchat"
HUMAN = "I want to talk to a person"
CUSTOM_DATA = {"language": "en", "page": "/checkout"}

# The widget's embed as its README gives it, with the bundle served by the page's own site.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Northwind Outfitters</title></head>
<body><h1>Northwind Outfitters</h1>
<script src="/rasa-webchat/index.js"></script>
<script>
  WebChat.default({{socketUrl: {socket_url}, socketPath: "/socket.io/", customData: {custom_data},
                    title: "Northwind Outfitters", initPayload: null}}, null);
</script>
</body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def shop_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def service(start_service, shop_port):
    # The brand's site is another origin than the service, as on a real site.
    return start_service(SOCKETIO_ENABLED="true", SOCKETIO_CORS_ORIGINS=f"http://127.0.0.1:{shop_port}",
                         BUSINESS_HOURS="always", OUTBOX_BACKOFF_BASE="0.05", OUTBOX_BACKOFF_MAX="0.5")


@pytest.fixture(scope="module")
def shop(service, shop_port, tmp_path_factory) -> Iterator[str]:
    """The brand's page on 127.0.0.1, served by a plain static server."""
    root = tmp_path_factory.mktemp("shop")
    shutil.copytree(VENDOR, root / "rasa-webchat")
    (root / "index.html").write_text(PAGE.format(socket_url=json.dumps(service.url),
                                                 custom_data=json.dumps(CUSTOM_DATA)))
    server = ThreadingHTTPServer(("127.0.0.1", shop_port), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{shop_port}/"
    finally:
        server.shutdown()
        server.server_close()


async def open_widget(browser, shop: str):
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    outside: list[str] = []

    async def loopback_only(route) -> None:
        # The widget's stylesheet asks for a web font: nothing leaves the machine.
        outside.append(route.request.url)
        await route.abort()

    await context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/])"), loopback_only)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.outside = outside
    await page.goto(shop)
    # rasa-webchat shows its launcher only once the socket is connected and the session confirmed.
    await page.locator(".rw-launcher").click()
    await expect(page.locator(".rw-new-message")).to_be_visible()
    return page


async def type_in(page, text: str) -> None:
    await page.locator(".rw-new-message").fill(text)
    await page.keyboard.press("Enter")


def answers(page):
    return page.locator(".rw-from-response .rw-message-text")


def one_of(texts: list[str]) -> re.Pattern:
    return re.compile("|".join(re.escape(t.strip()[:60]) for t in texts))


async def session_of(page) -> str:
    stored = await page.evaluate("window.localStorage.getItem('chat_session')")
    return json.loads(stored)["session_id"]


async def agent_desk(service, name: str) -> aiohttp.ClientSession:
    """An agent logged in to the console over HTTP, with the page's CSRF token for the API."""
    password = await asyncio.to_thread(add_account, service.env["DATABASE_URL"], name, "agent")
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(f"{service.url}/console/login") as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
    async with http.post(f"{service.url}/console/login", allow_redirects=False,
                         data={"csrf_token": csrf, "name": name, "password": password}) as response:
        assert response.status == 303, await response.text()
    async with http.get(f"{service.url}/console/") as response:
        http.headers["X-CSRF-Token"] = re.search(r'name="csrf-token" content="([^"]+)"',
                                                 await response.text()).group(1)
    return http


async def waiting_conversation(http: aiohttp.ClientSession, service, customer: str, timeout: float = 60) -> int:
    for _ in range(int(timeout / 0.5)):
        async with http.get(f"{service.url}/console/api/queue") as response:
            waiting = (await response.json())["waiting"]
        found = [row["id"] for row in waiting if row["customer"] == customer]
        if found:
            return found[0]
        await asyncio.sleep(0.5)
    raise AssertionError(f"{customer} never reached the queue: {waiting}")


async def customer_metadata(database_url: str, session: str) -> list[dict]:
    """The metadata of the session's messages as the inbox accepted them."""
    from sqlalchemy import select

    db = Database(database_url)
    try:
        async with db.session() as s:
            rows = (await s.execute(select(InboxItem).where(InboxItem.channel == "socketio")
                                    .order_by(InboxItem.id))).scalars()
            return [row.payload["metadata"] for row in rows if row.payload["sender_id"] == session]
    finally:
        await db.close()


async def test_the_widget_is_answered_with_buttons_handed_over_and_gets_the_agents_reply(browser, service, shop):
    page = await open_widget(browser, shop)
    await type_in(page, "hello")
    await expect(page.locator(".rw-from-client .rw-message-text").last).to_have_text("hello")
    await expect(answers(page).last).to_have_text(one_of(responses()["utter_greet"]))
    # The buttons arrive as the widget's quick replies, and pressing one sends its payload.
    replies = page.locator(".rw-replies .rw-reply")
    await expect(replies).to_have_text(["Track my order", "Returns", "Talk to a person"])
    await replies.get_by_text("Returns").click()
    await expect(answers(page).last).to_have_text(one_of(responses()["utter_returns_policy"]))

    await type_in(page, HUMAN)
    await expect(answers(page).last).to_contain_text("team")
    session = await session_of(page)
    # The widget's customData is kept with each message, as Rasa passes it to actions.
    metadata = await customer_metadata(service.env["DATABASE_URL"], session)
    assert metadata and all(m["customData"] == CUSTOM_DATA for m in metadata), metadata

    http = await agent_desk(service, "robin")
    try:
        conversation = await waiting_conversation(http, service, session)
        base = f"{service.url}/console/api/conversations/{conversation}"
        async with http.post(f"{base}/claim") as response:
            assert response.status == 200, await response.text()
        async with http.post(f"{base}/reply", json={"text": "Hi, Robin here. Which order is it?"}) as response:
            assert response.status == 200, await response.text()
        await expect(answers(page).last).to_have_text("Hi, Robin here. Which order is it?")

        # After a reload the widget reopens as it was, resumes its session (session_request with
        # the stored id), and the agent's next reply still reaches it.
        await page.reload()
        await expect(page.locator(".rw-new-message")).to_be_visible()
        await expect(answers(page).last).to_have_text("Hi, Robin here. Which order is it?")
        assert await session_of(page) == session
        await type_in(page, "it's order 10452")
        async with http.post(f"{base}/reply", json={"text": "Thanks, it left our warehouse today."}) as response:
            assert response.status == 200, await response.text()
        await expect(answers(page).last).to_have_text("Thanks, it left our warehouse today.")
    finally:
        await http.close()
    assert not page.errors, page.errors
    assert all("fonts.googleapis.com" in url for url in page.outside), page.outside
    await page.context.close()


async def test_a_page_on_a_site_not_allowed_never_shows_the_widget(browser, service, shop, shop_port):
    # The same page under another origin ("localhost" is not "127.0.0.1" to a browser).
    context = await browser.new_context()
    page = await context.new_page()
    refused = asyncio.Event()
    page.on("requestfailed", lambda request: refused.set() if "/socket.io/" in request.url else None)
    await page.goto(f"http://localhost:{shop_port}/")
    await asyncio.wait_for(refused.wait(), 30)
    await asyncio.sleep(1)
    assert await page.locator(".rw-launcher").count() == 0
    await context.close()
