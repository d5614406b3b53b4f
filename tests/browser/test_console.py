"""The agent console in headless Chromium against the running service (SQLite): login,
the live queue, claim, reply into the customer's web chat, notes, transfer, resolve with
a rating, the claim race between two browsers, escaping, CSRF and roles.

One service for the module; every test uses its own customers. The claim race on
PostgreSQL is covered at the storage level (tests/console/test_desk.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator

import aiohttp
import pytest
from playwright.async_api import expect

from bot.settings import PROJECT_DIR
from tests.conftest import service_env
from tests.support.browser import chat_say, customer_chat, new_page
from tests.support.client import add_account, cli, is_response, new_sender, say
from tests.support.process import ServiceProcess

# The module's service starts with the first test, and its start counts towards that test's time.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

DOCS = PROJECT_DIR / "docs"
HUMAN = "I want to talk to a human"


@pytest.fixture(scope="module")
def console_service(model, tmp_path_factory) -> Iterator[ServiceProcess]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'assistant.db'}"
    process = ServiceProcess(service_env(url, model, BUSINESS_HOURS="always")).start(timeout=600)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def people(console_service) -> dict[str, str]:
    """Accounts made the way an admin makes them: with the CLI."""
    from concurrent.futures import ThreadPoolExecutor

    def add(account: tuple[str, str]) -> tuple[str, str]:
        name, role = account
        return name, add_account(console_service.env["DATABASE_URL"], name, role)

    accounts = (("ann", "agent"), ("bob", "agent"), ("sue", "supervisor"), ("locky", "agent"))
    with ThreadPoolExecutor(len(accounts)) as pool:
        return dict(pool.map(add, accounts))


async def log_in(page, service, name: str, password: str, path: str = "/console/") -> None:
    await page.goto(f"{service.url}{path}")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login")
    await expect(page).to_have_url(f"{service.url}{path}")
    await expect(page.locator("#live")).to_have_text("live")


async def webchat_say(url: str, sender: str, text: str, until: str = "ack") -> dict:
    """A customer writing from the web chat (its WebSocket); the first frame of kind `until`."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{url}/webhooks/webchat/ws?sender={sender}") as ws:
            assert (await ws.receive_json(timeout=30))["type"] == "history"
            await ws.send_json({"type": "message", "text": text, "client_id": uuid.uuid4().hex})
            while (frame := await ws.receive_json(timeout=60))["type"] != until:
                assert frame["type"] != "error", frame
            return frame


def waiting_row(page, customer: str):
    return page.locator("#waiting li", has_text=customer)


async def test_screenshots_for_the_readme(browser, console_service, people):
    """First in the module, so the queue holds just these customers: docs/console-*.png."""
    url = console_service.url
    customers = [
        ("maya.lopez", "My parcel arrived broken and nobody answers my emails. This is terrible!"),
        ("tom.becker", "I want to talk to a human about my refund"),
        ("aiko.tanaka", "Can a person help me change the address on my order?"),
        ("liam.okafor", "I need to speak to someone, the jacket I ordered is the wrong size"),
    ]
    for sender, text in customers:
        if sender == "tom.becker":
            # From the web chat: a REST customer cannot receive an agent's reply at all.
            await webchat_say(url, sender, text, until="status")
            continue
        replies = await say(url, sender, text)
        assert any(is_response(r.get("text", ""), "utter_handoff") for r in replies), (text, replies)
    ann = await new_page(browser)
    await log_in(ann, console_service, "ann", people["ann"])
    await expect(waiting_row(ann, "liam.okafor")).to_be_visible(timeout=30_000)

    await waiting_row(ann, "tom.becker").get_by_role("button", name="Claim").click()
    await expect(ann).to_have_url(re.compile(r"/console/conversations/\d+$"))
    await ann.fill("#reply-text", "Hi Tom, I'm Ann. I can see your order, let me check the refund for you.")
    await ann.keyboard.press("Enter")
    await expect(ann.locator("#timeline .message.agent .delivery").last).to_have_text("sent", timeout=15_000)
    await webchat_say(url, "tom.becker", "Thanks! It was order 482913, the blue jacket.")
    await expect(ann.locator("#timeline .message.customer").last).to_contain_text("482913", timeout=15_000)
    await ann.fill("#note-text", "Refund approved by finance, ref F-2291.")
    await ann.click("#add-note")
    await expect(ann.locator("#notes .note")).to_have_count(1)
    await expect(ann.locator("#toast")).to_be_hidden(timeout=10_000)
    await ann.screenshot(path=str(DOCS / "console-conversation.png"))

    await ann.goto(f"{url}/console/")
    await expect(ann.locator("#mine li", has_text="tom.becker")).to_be_visible()
    await expect(ann.locator("#waiting li")).to_have_count(3)
    layout = await ann.locator(".queue-layout").bounding_box()
    await ann.screenshot(path=str(DOCS / "console-queue.png"),
                         clip={"x": 0, "y": 0, "width": 1280, "height": layout["y"] + layout["height"] + 24})
    assert not ann.errors, ann.errors


async def test_login_wrong_password_and_logged_out_redirect(browser, console_service, people):
    page = await new_page(browser)
    await page.goto(f"{console_service.url}/console/conversations/1")
    await expect(page).to_have_url(re.compile(r"/console/login\?next=(%2F|/)console(%2F|/)conversations(%2F|/)1$"))
    await page.fill("#name", "ann")
    await page.fill("#password", "not her password")
    await page.click("#login")
    await expect(page.locator("#login-error")).to_have_text("wrong name or password")
    await page.fill("#password", people["ann"])
    await page.click("#login")
    await expect(page).to_have_url(f"{console_service.url}/console/conversations/1")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # Log out: the session is gone, the pages send you to the login form again.
    await page.goto(f"{console_service.url}/console/")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    await page.goto(f"{console_service.url}/console/")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    assert not page.errors, page.errors


async def login_over_http(http: aiohttp.ClientSession, service, name: str, password: str) -> tuple[int, str]:
    async with http.get(f"{service.url}/console/login") as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
    async with http.post(f"{service.url}/console/login", allow_redirects=False,
                         data={"csrf_token": csrf, "name": name, "password": password}) as response:
        return response.status, await response.text()


def client() -> aiohttp.ClientSession:
    # unsafe: keep cookies of an IP-address host (127.0.0.1).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_api_needs_login_role_and_csrf(console_service, people):
    url = console_service.url
    async with client() as http:
        async with http.get(f"{url}/console/api/queue") as response:
            assert response.status == 401 and (await response.json())["error"] == "log in first"
        async with http.get(f"{url}/console/ws") as response:
            assert response.status == 401
        status, _ = await login_over_http(http, console_service, "ann", people["ann"])
        assert status == 303
        async with http.get(f"{url}/console/") as response:
            page = await response.text()
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        conversation = await escalated_conversation(http, console_service)
        claim = f"{url}/console/api/conversations/{conversation}/claim"
        async with http.post(claim) as response:
            assert response.status == 403 and "CSRF" in (await response.json())["error"]
        async with http.post(claim, headers={"X-CSRF-Token": "forged"}) as response:
            assert response.status == 403
        async with http.post(claim, headers={"X-CSRF-Token": csrf}) as response:
            assert response.status == 200, await response.text()
        async with http.get(f"{url}/console/api/team") as response:
            assert response.status == 403  # agents do not see the supervisor's view
        async with http.get(f"{url}/console/supervisor") as response:
            assert response.status == 403
        # Another site's page cannot ride on the cookie into the live socket.
        async with http.get(f"{url}/console/ws", headers={"Origin": "https://evil.example"}) as response:
            assert response.status == 403
        async with http.ws_connect(f"{url}/console/ws", headers={"Origin": url}) as ws:
            assert (await ws.receive_json(timeout=30))["type"] == "queue"


async def test_wrong_passwords_slow_the_guesser_down_not_the_account(console_service, people):
    async with client() as http:
        for name in ("locky", "nobody-by-this-name"):
            answers = []
            for _ in range(4):
                status, page = await login_over_http(http, console_service, name, "wrong")
                answers.append((status, re.search(r'id="login-error">([^<]*)<', page).group(1)))
            # Whether the name exists or not, the same answers.
            assert answers[:3] == [(401, "wrong name or password")] * 3, answers
            assert answers[3][0] == 429 and re.fullmatch(r"too many attempts, try again in \d+ s", answers[3][1])
    # Locky, at their own desk (another address), is not locked out.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))) as desk:
        status, _ = await login_over_http(desk, console_service, "locky", people["locky"])
        assert status == 303


async def test_a_generated_password_must_be_changed_at_first_sign_in(browser, console_service):
    result = cli(console_service.env["DATABASE_URL"], "users", "add", "newbie", "--role", "agent")
    assert result.returncode == 0, result.stderr
    printed = re.search(r"with password: (\S+)", result.stdout).group(1)
    url = console_service.url
    page = await new_page(browser)
    await page.goto(f"{url}/console/")
    await page.fill("#name", "newbie")
    await page.fill("#password", printed)
    await page.click("#login")
    await expect(page).to_have_url(re.compile(r"/console/password\?next="))
    await expect(page.locator("#password-forced")).to_be_visible()
    # Nothing else opens until the password is changed: pages lead back here, the API refuses.
    await page.goto(f"{url}/console/canned")
    await expect(page).to_have_url(f"{url}/console/password")
    api = await page.request.get(f"{url}/console/api/queue")
    assert api.status == 403 and (await api.json())["error"] == "change your password first"
    await page.fill("#current", printed)
    await page.fill("#new", "my own passphrase")
    await page.fill("#repeat", "my own passphrose")
    await page.click("#change-password")
    await expect(page.locator("#password-error")).to_have_text("the new password and its repetition differ")
    await page.fill("#current", printed)
    await page.fill("#new", "my own passphrase")
    await page.fill("#repeat", "my own passphrase")
    await page.click("#change-password")
    await expect(page).to_have_url(f"{url}/console/")
    await expect(page.locator("#live")).to_have_text("live")
    assert (await page.request.get(f"{url}/console/api/queue")).status == 200
    # The printed password is worth nothing now; the chosen one logs in without detour.
    async with client() as http:
        assert (await login_over_http(http, console_service, "newbie", printed))[0] == 401
        assert (await login_over_http(http, console_service, "newbie", "my own passphrase"))[0] == 303
    assert not page.errors, page.errors


async def escalated_conversation(http: aiohttp.ClientSession, service, sender: str | None = None,
                                 text: str = HUMAN) -> int:
    sender = sender or new_sender("rest")
    await say(service.url, sender, text)
    async with http.get(f"{service.url}/console/api/queue") as response:
        snapshot = await response.json()
    return next(row["id"] for row in snapshot["waiting"] if row["customer"] == sender)


async def test_a_whole_conversation_from_web_chat_to_rating(browser, console_service, people):
    url = console_service.url
    # A canned response, made in the console by a supervisor (agents use them, not edit them).
    sue = await new_page(browser)
    await log_in(sue, console_service, "sue", people["sue"])
    await sue.goto(f"{url}/console/canned")
    await sue.fill("#canned-shortcut", "refund")
    await sue.fill("#canned-text", "Your refund is on its way: 3-5 working days.")
    await sue.click("#canned-form button[type=submit]")
    await expect(sue.locator("#canned-list")).to_contain_text("/refund")
    await sue.context.close()

    ann = await new_page(browser)
    await log_in(ann, console_service, "ann", people["ann"])
    await ann.goto(f"{url}/console/canned")
    await expect(ann.locator("#canned-list")).to_contain_text("/refund")
    await expect(ann.locator("#canned-form")).to_be_hidden()
    await expect(ann.locator("#canned-list button")).to_have_count(0)
    await ann.goto(f"{url}/console/")
    await expect(ann.locator("#live")).to_have_text("live")

    # The customer escalates from the web chat; the queue shows it without a reload.
    sender = new_sender("web")
    customer = await customer_chat(browser, console_service, sender)
    await chat_say(customer, HUMAN)
    row = waiting_row(ann, sender)
    await expect(row).to_be_visible(timeout=30_000)
    await expect(row).to_contain_text("asked for a person")
    await expect(row).to_contain_text("webchat")
    await expect(row).to_contain_text("private")
    await expect(customer.locator(".message.bot .bubble").last).to_contain_text("wait right now")

    # Claim: the conversation page, with the history and the model's reading of it.
    await row.get_by_role("button", name="Claim").click()
    await expect(ann).to_have_url(re.compile(r"/console/conversations/\d+$"))
    await expect(ann.locator("#timeline .message.customer").first).to_contain_text(HUMAN)
    await expect(ann.locator("#timeline .message.customer .badge.intent").first).to_contain_text("request_human")
    await expect(ann.locator("#timeline .event.claimed")).to_contain_text("ann took the conversation")
    await expect(customer.locator("#banner")).to_contain_text("ann")

    # The demo's canned responses are there from the start; a shortcut nobody made says so.
    await ann.click("#reply-text")
    await ann.keyboard.type("/")
    await expect(ann.locator("#suggestions")).to_contain_text("/late-order")
    await ann.keyboard.type("zzz")
    await expect(ann.locator("#suggestions")).to_have_text("No canned response starts with /zzz.")
    await ann.fill("#reply-text", "")

    # Reply with the canned response: "/ref" + Tab inserts it; Enter sends it.
    await ann.click("#reply-text")
    await ann.keyboard.type("Hi! /ref")
    await expect(ann.locator("#suggestions")).to_contain_text("/refund")
    await ann.keyboard.press("Tab")
    await expect(ann.locator("#reply-text")).to_have_value("Hi! Your refund is on its way: 3-5 working days.")
    await ann.keyboard.press("Enter")
    sent = ann.locator("#timeline .message.agent").last
    await expect(sent).to_contain_text("Your refund is on its way")
    await expect(sent.locator(".delivery")).to_have_text("sent", timeout=15_000)
    await expect(customer.locator(".message.agent .bubble").last).to_have_text(
        "Hi! Your refund is on its way: 3-5 words days.".replace("words", "working"))

    # The customer's markup arrives live and stays text.
    attack = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
    await chat_say(customer, attack)
    await expect(ann.locator("#timeline .message.customer .text").last).to_have_text(attack, timeout=15_000)
    assert await ann.locator("#timeline img, #timeline script").count() == 0

    # A private note; then transfer to bob.
    await ann.fill("#note-text", "Refund <b>approved</b> by finance")
    await ann.click("#add-note")
    await expect(ann.locator("#notes .note .text")).to_have_text(["Refund <b>approved</b> by finance"])
    await ann.select_option("#transfer-to", "bob")
    await ann.click("#transfer")
    await expect(ann.locator("#owner")).to_have_text("With bob")
    await expect(ann.locator("#reply-locked")).to_contain_text("bob is handling")
    conversation_path = ann.url.removeprefix(url)

    bob = await new_page(browser)
    await log_in(bob, console_service, "bob", people["bob"])
    await expect(bob.locator("#mine li", has_text=sender)).to_be_visible()
    await bob.goto(f"{url}{conversation_path}")
    await expect(bob.locator("#owner")).to_have_text("You have this conversation")
    await expect(bob.locator("#timeline .event.transferred")).to_contain_text("from ann to bob")

    # The customer's last message has no answer: resolving asks first (bob's page says no).
    await bob.click("#resolve")
    await expect(bob.locator("#badges")).to_contain_text("assigned")
    assert bob.dialogs == ["The customer's last message has no answer yet. Resolve the conversation anyway?"]
    await bob.fill("#reply-text", "All sorted, have a good day!")
    await bob.click("#send")
    await expect(bob.locator("#timeline .message.agent").last).to_contain_text("All sorted")

    # Resolve with the rating question; the customer taps 4; the console shows it live.
    await expect(bob.locator("#ask-satisfaction")).to_be_checked()
    await bob.click("#resolve")
    await expect(bob.locator("#badges")).to_contain_text("closed")
    await customer.locator("#quick-replies button", has_text="4").click(timeout=15_000)
    await expect(bob.locator("#satisfaction")).to_contain_text("(4/5)", timeout=15_000)
    await expect(customer.locator(".message.bot .bubble").last).to_contain_text("Thank you for your rating")
    await expect(bob.locator("#timeline .event.satisfaction")).to_contain_text("rated the help 4/5")

    transcript = cli(console_service.env["DATABASE_URL"], "transcript", "--channel", "webchat", "--sender", sender,
                     "--json")
    story = transcript.stdout
    for step in ('"claimed"', '"transferred"', '"resolved"', '"satisfaction"', '"agent"'):
        assert step in story
    assert not ann.dialogs and not ann.errors and not bob.errors and not customer.errors, \
        (ann.dialogs, ann.errors, bob.errors, customer.errors)


async def test_two_browsers_claim_the_same_conversation(browser, console_service, people):
    ann, bob = await new_page(browser), await new_page(browser)
    await log_in(ann, console_service, "ann", people["ann"])
    await log_in(bob, console_service, "bob", people["bob"])
    sender = new_sender("race")
    await say(console_service.url, sender, HUMAN)
    rows = [waiting_row(ann, sender), waiting_row(bob, sender)]
    for row in rows:
        await expect(row).to_be_visible(timeout=30_000)
    await asyncio.gather(*(row.get_by_role("button", name="Claim").click() for row in rows))
    outcomes = await asyncio.gather(claim_outcome(ann), claim_outcome(bob))
    assert sorted(o[0] for o in outcomes) == ["lost", "won"], outcomes
    winner = "ann" if outcomes[0][0] == "won" else "bob"
    (told,) = [message for result, message in outcomes if result == "lost"]
    assert told == f"already taken by {winner}"


async def claim_outcome(page, timeout: float = 20.0) -> tuple[str, str]:
    """("won", url) once the page opened the conversation, ("lost", toast) once it was told."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if "/console/conversations/" in page.url:
            return "won", page.url
        toast = page.locator("#toast")
        if await toast.is_visible():
            return "lost", await toast.text_content()
        await asyncio.sleep(0.05)
    raise AssertionError("the page neither opened the conversation nor said why not")


async def test_supervisor_sees_load_and_reassigns(browser, console_service, people):
    sue = await new_page(browser)
    await log_in(sue, console_service, "sue", people["sue"], "/console/supervisor")
    await expect(sue.locator("#team-rows tr", has_text="ann")).to_be_visible()
    sender = new_sender("reassign")
    await say(console_service.url, sender, HUMAN)
    row = sue.locator("#assignment-rows tr", has_text=sender)
    await expect(row).to_be_visible(timeout=30_000)
    # Why it is waiting and what the customer last said, to choose who takes it.
    await expect(row.locator(".reason")).to_have_text("asked for a person")
    await expect(row.locator(".last")).to_have_text(HUMAN)
    await row.locator("select").select_option("bob")
    await row.get_by_role("button", name="Reassign").click()
    await expect(sue.locator("#toast")).to_contain_text("is with bob now")
    await expect(row).to_contain_text("bob")
    await expect(sue.locator("#team-rows tr", has_text="bob").locator(".load")).not_to_have_text("0")


async def test_the_agent_is_told_before_writing_that_a_rest_customer_cannot_receive_replies(
        browser, console_service, people):
    url = console_service.url
    sender = new_sender("rest")
    await say(url, sender, HUMAN)
    ann = await new_page(browser)
    await log_in(ann, console_service, "ann", people["ann"])
    await waiting_row(ann, sender).get_by_role("button", name="Claim").click()
    await expect(ann).to_have_url(re.compile(r"/console/conversations/\d+$"))
    notice = ann.locator("#reply-notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("cannot reach them")
    await ann.fill("#reply-text", "Hello, can you hear me?")
    await ann.keyboard.press("Enter")
    delivery = ann.locator("#timeline .message.agent .delivery").last
    await expect(delivery).to_contain_text("not deliverable", timeout=15_000)
    await expect(delivery).not_to_contain_text("sent")
    assert not ann.errors, ann.errors

    # A web chat customer can be answered: no notice.
    other = new_sender("web")
    await webchat_say(url, other, HUMAN, until="status")
    await ann.goto(f"{url}/console/")
    await waiting_row(ann, other).get_by_role("button", name="Claim").click()
    await expect(ann).to_have_url(re.compile(r"/console/conversations/\d+$"))
    await expect(ann.locator("#timeline .message.customer").first).to_contain_text(HUMAN)
    await expect(notice).to_be_hidden()


async def test_a_long_queue_shows_a_page_and_the_count_of_the_rest(browser, console_service, people):
    """Last in the module: more conversations waiting than a page holds, then closed again."""
    from sqlalchemy import update

    from bot.messages import utcnow
    from bot.storage import history
    from bot.storage.database import Database
    from bot.storage.models import Conversation
    from bot.storage.queue import hand_to_queue

    db = Database(console_service.env["DATABASE_URL"])
    ids = []
    try:
        async with db.session() as session:
            for n in range(130):
                at = utcnow()
                customer = await history.customer_for(session, "webchat", f"crowd-{n:03d}", None, at)
                conversation = await history.open_conversation(session, customer, "webchat", at)
                await hand_to_queue(session, conversation, "customer_request", 0, at)
                ids.append(conversation.id)
        ann = await new_page(browser)
        await log_in(ann, console_service, "ann", people["ann"])
        async with client() as http:
            assert (await login_over_http(http, console_service, "ann", people["ann"]))[0] == 303
            async with http.get(f"{console_service.url}/console/api/queue") as response:
                snapshot = await response.json()
            total = snapshot["waiting_total"]
            assert total >= 130 and len(snapshot["waiting"]) == 100 and snapshot["waiting_more"] == total - 100
            async with http.get(f"{console_service.url}/console/api/queue", params={"limit": "10", "offset": "100"}) as response:
                page = await response.json()
            assert len(page["waiting"]) == 10 and page["offset"] == 100
            assert not {r["id"] for r in page["waiting"]} & {r["id"] for r in snapshot["waiting"]}
            for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "many"}, {"offset": "-1"}):
                async with http.get(f"{console_service.url}/console/api/queue", params=bad) as response:
                    assert response.status == 400 and "must be a whole number" in (await response.json())["error"]
        await expect(ann.locator("#waiting li")).to_have_count(100, timeout=30_000)
        await expect(ann.locator("#waiting-count")).to_have_text(str(total))
        await expect(ann.locator("#waiting-more")).to_contain_text(f"{total - 100} more not shown")
        assert not ann.errors, ann.errors
    finally:
        async with db.session() as session:
            await session.execute(update(Conversation).where(Conversation.id.in_(ids)).values(status="closed"))
        await db.close()


async def test_the_queue_and_the_conversation_say_which_language_the_customer_writes(
        browser, console_service, people):
    spanish, english = new_sender("es"), new_sender("en")
    await say(console_service.url, spanish, "hola, quiero cambiar la dirección de entrega de mi pedido")
    await say(console_service.url, english, HUMAN)
    ann = await new_page(browser)
    await log_in(ann, console_service, "ann", people["ann"])
    row = waiting_row(ann, spanish)
    await expect(row.locator(".badge.language")).to_have_text("writes in Spanish", timeout=30_000)
    await expect(row.locator(".reason")).to_have_text("writes in another language")
    await expect(waiting_row(ann, english)).to_be_visible()
    await expect(waiting_row(ann, english).locator(".badge.language")).to_have_count(0)
    await row.get_by_role("button", name="Claim").click()
    await expect(ann).to_have_url(re.compile(r"/console/conversations/\d+$"))
    await expect(ann.locator("#badges .badge.language")).to_have_text("writes in Spanish")
    assert not ann.errors, ann.errors


async def test_the_agent_sees_the_metadata_the_customers_client_sent(browser, console_service, people):
    """REST's metadata reaches Rasa's actions and is kept on the message for the agent."""
    sender = new_sender("meta")
    metadata = {"locale": "en-GB", "cart": {"items": 2, "note": "<b>gift</b>"}}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{console_service.url}/webhooks/rest/webhook",
                             json={"sender": sender, "message": HUMAN, "metadata": metadata}) as response:
            assert response.status == 200
    plain = new_sender("plain")
    await say(console_service.url, plain, HUMAN)
    ann = await new_page(browser)
    await log_in(ann, console_service, "ann", people["ann"])
    await waiting_row(ann, sender).get_by_role("button", name="Claim").click()
    await expect(ann).to_have_url(re.compile(r"/console/conversations/\d+$"))
    details = ann.locator("#timeline .message.customer details.metadata")
    await expect(details).to_have_count(1)
    await details.locator("summary").click()
    shown = await details.locator("pre").text_content()
    assert json.loads(shown) == {**metadata, "brand_assistant": {"channel": "rest", "is_public": False}}
    # A message with nothing but the channel's facts shows no metadata.
    await ann.goto(f"{console_service.url}/console/")
    await waiting_row(ann, plain).get_by_role("button", name="Claim").click()
    await expect(ann.locator("#timeline .message.customer").first).to_contain_text(HUMAN)
    await expect(ann.locator("#timeline details.metadata")).to_have_count(0)
    assert not ann.errors, ann.errors
