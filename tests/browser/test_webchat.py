"""The customer web chat page in a real headless Chromium against the running service."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from bot.messages import OutgoingMessage, utcnow
from bot.storage import history, outbox
from bot.storage.database import Database
from tests.support.client import cli_json, responses

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def open_chat(page, service):
    await page.goto(f"{service.url}/chat")
    await expect(page.locator("#presence")).to_have_class(re.compile(r"\bonline\b"))


async def say(page, text: str) -> None:
    await page.fill("#text", text)
    await page.keyboard.press("Enter")


async def test_a_customer_asks_and_reads_the_bot_answer(page, service):
    await open_chat(page, service)
    await expect(page.locator("#presence")).to_have_text("Online — the assistant answers at once")
    await say(page, "what are your opening hours?")
    await expect(page.locator(".message.customer .bubble").last).to_have_text("what are your opening hours?")
    answer = page.locator(".message.bot .bubble").last
    await expect(answer).to_have_text(re.compile("|".join(map(re.escape, responses()["utter_opening_hours"]))))
    assert not page.console_errors, page.console_errors


async def test_quick_replies_are_buttons_that_send_their_payload(page, service):
    await open_chat(page, service)
    await say(page, "hello")
    await expect(page.locator("#quick-replies button")).to_have_count(3)
    await page.get_by_role("button", name="Returns").click()
    await expect(page.locator(".message.customer .bubble").last).to_have_text("Returns")
    pattern = "|".join(re.escape(t.strip()[:40]) for t in responses()["utter_returns_policy"])
    await expect(page.locator(".message.bot .bubble").last).to_have_text(re.compile(pattern))


async def test_history_survives_a_reload(page, service):
    await open_chat(page, service)
    await say(page, "do you ship internationally?")
    await expect(page.locator(".message.bot")).to_have_count(1)
    await page.reload()
    await open_chat(page, service)
    await expect(page.locator(".message.customer .bubble")).to_have_text(["do you ship internationally?"])
    await expect(page.locator(".message.bot")).to_have_count(1)


async def test_customer_markup_stays_text(page, service):
    await open_chat(page, service)
    await page.evaluate("window.__hacked = false")
    payload = '<img src=x onerror="window.__hacked = true"><script>window.__hacked = true</script>'
    await say(page, payload)
    await expect(page.locator(".message.customer .bubble").last).to_have_text(payload)
    await expect(page.locator(".message.bot, .message.system").last).to_be_visible()
    assert await page.evaluate("window.__hacked") is False
    assert await page.locator(".messages img").count() == 0


async def test_handoff_then_a_person_answers_in_the_same_window(page, service):
    await open_chat(page, service)
    await say(page, "I want to talk to a human")
    await expect(page.locator("#banner")).to_be_visible()
    await expect(page.locator("#banner")).to_contain_text("team")
    # The header no longer promises an answer at once: a person takes longer.
    await expect(page.locator("#presence")).to_have_text("Online — waiting for a member of our team")
    sender = await page.evaluate("window.localStorage.getItem('brand-assistant-sender')")
    (row,) = [r for r in cli_json(service.env["DATABASE_URL"], "queue") if r["customer"] == sender]
    # While a person owns the conversation the bot stays silent.
    bot_lines = await page.locator(".message.bot").count()
    await say(page, "hello? anyone?")
    await expect(page.locator(".message.customer")).to_have_count(2)
    await asyncio.sleep(1.5)
    assert await page.locator(".message.bot").count() == bot_lines
    # An agent's reply goes through the outbox like any reply and arrives live.
    await agent_reply(service.env["DATABASE_URL"], row["conversation"], sender, "Hi, this is Sam. How can I help?")
    agent = page.locator(".message.agent").last
    await expect(agent.locator(".bubble")).to_have_text("Hi, this is Sam. How can I help?")
    await expect(agent.locator(".meta")).to_have_text("Sam")


async def test_the_page_sends_a_content_security_policy(page, service):
    response = await page.goto(f"{service.url}/chat")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


async def agent_reply(database_url: str, conversation_id: int, sender: str, text: str) -> None:
    """What the console does on 'send': record the reply and put it in the outbox."""
    from bot.storage.models import Conversation

    db = Database(database_url)
    try:
        reply = OutgoingMessage(channel="webchat", recipient_id=sender, text=text, author="agent", agent_name="Sam")
        async with db.session() as session:
            conversation = await session.get(Conversation, conversation_id)
            record = await history.record_outgoing(session, conversation, None, reply, utcnow())
            await outbox.enqueue(session, record, reply, utcnow())
    finally:
        await db.close()
