"""In headless Chromium against the running service: an agent sets the name customers see
and the customer's web chat shows it (never the login name); an agent reopens a resolved
conversation from its page and writes to the customer again.

The customers' conversations are put in the queue directly: what is tested here needs no
model's answer, so the service runs the tiny test project's model and is used as soon as
its port is open (agents' replies go out while the model loads)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from bot.messages import utcnow
from bot.storage import history
from bot.storage.database import Database
from bot.storage.queue import hand_to_queue
from bot.training.project import Project
from tests.browser.test_console import log_in, waiting_row
from tests.conftest import service_env
from tests.support.browser import customer_chat, new_page
from tests.support.client import add_account, new_sender
from tests.support.model import cached_model
from tests.support.process import ServiceProcess
from tests.training.conftest import TINY

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('names') / 'assistant.db'}"
    model = cached_model(Project.at(TINY), "tiny")
    process = ServiceProcess(service_env(url, model, BUSINESS_HOURS="always")).start(until="loading")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def people(service) -> dict[str, str]:
    return {name: add_account(service.env["DATABASE_URL"], name, role)
            for name, role in (("ann", "agent"), ("bob", "agent"))}


async def waiting_customer(service, sender: str) -> None:
    """A web chat customer who asked for a person and waits in the queue."""
    db = Database(service.env["DATABASE_URL"])
    try:
        async with db.session() as session:
            at = utcnow()
            customer = await history.customer_for(session, "webchat", sender, None, at)
            conversation = await history.open_conversation(session, customer, "webchat", at)
            await hand_to_queue(session, conversation, "customer_request", 0, at)
    finally:
        await db.close()


async def claim(agent_page, sender: str) -> None:
    await agent_page.goto(agent_page.url.split("/console/")[0] + "/console/")
    await waiting_row(agent_page, sender).get_by_role("button", name="Claim").click()
    await expect(agent_page).to_have_url(re.compile(r"/console/conversations/\d+$"))


async def reply(agent_page, text: str) -> None:
    await agent_page.fill("#reply-text", text)
    await agent_page.keyboard.press("Enter")
    await expect(agent_page.locator("#timeline .message.agent .delivery").last).to_have_text("sent", timeout=15_000)


async def test_the_customer_sees_the_name_the_agent_chose_never_the_login(browser, service, people):
    ann = await new_page(browser)
    await log_in(ann, service, "ann", people["ann"])
    await ann.click("a.who")  # the top bar's name leads to the account page
    await expect(ann).to_have_url(f"{service.url}/console/password")
    await ann.fill("#display-name-input", "Ann\u0007")
    await ann.click("#save-display-name")
    await expect(ann.locator("#display-name-error")).to_contain_text("control characters")
    await ann.fill("#display-name-input", "  Ann from Northwind ")
    await ann.click("#save-display-name")
    await expect(ann.locator("#display-name-saved")).to_contain_text("customers see you as “Ann from Northwind”")
    await expect(ann.locator("#display-name-input")).to_have_value("Ann from Northwind")

    sender = new_sender("named")
    await waiting_customer(service, sender)
    customer = await customer_chat(browser, service, sender)
    await claim(ann, sender)
    await expect(customer.locator("#banner")).to_have_text("You're chatting with Ann from Northwind from our team.")
    await expect(customer.locator("#presence")).to_have_text("Online — Ann from Northwind from our team")
    await reply(ann, "Hello! I'm looking at your order now.")
    label = customer.locator(".message.agent .meta").last
    await expect(label).to_have_text("Ann from Northwind")
    await expect(customer.locator(".message.agent .bubble").last).to_have_text("Hello! I'm looking at your order now.")
    # The console keeps the account's name.
    await expect(ann.locator("#timeline .message.agent .author").last).to_have_text("ann")
    # After a reload, from the history: the same name.
    await customer.reload()
    await expect(customer.locator(".message.agent .meta")).to_have_text(["Ann from Northwind"])
    await expect(customer.locator("#banner")).to_contain_text("Ann from Northwind")
    assert not re.search(r"\bann\b", await customer.locator("body").inner_text())
    assert not ann.errors and not customer.errors, (ann.errors, customer.errors)


async def test_an_agent_reopens_a_resolved_conversation_and_writes_again(browser, service, people):
    sender = new_sender("reopen")
    await waiting_customer(service, sender)
    customer = await customer_chat(browser, service, sender)
    bob = await new_page(browser)
    await log_in(bob, service, "bob", people["bob"])
    await claim(bob, sender)
    await reply(bob, "Your parcel is on its way.")
    await bob.uncheck("#ask-satisfaction")
    await bob.click("#resolve")
    await expect(bob.locator("#badges")).to_contain_text("closed")
    await expect(customer.locator("#banner")).to_be_hidden()
    await expect(bob.locator("#reply-locked")).to_have_text(
        "This conversation is resolved. Reopen it to write to the customer again.")
    conversation_path = bob.url.removeprefix(service.url)

    # ann did not handle it: no Reopen for her.
    ann = await new_page(browser)
    await log_in(ann, service, "ann", people["ann"], conversation_path)
    await expect(ann.locator("#badges")).to_contain_text("closed")
    await expect(ann.locator("#reopen")).to_be_hidden()

    await bob.click("#reopen")
    await expect(bob.locator("#toast")).to_contain_text("Reopened")
    await expect(bob.locator("#badges")).to_contain_text("assigned")
    await expect(bob.locator("#owner")).to_have_text("You have this conversation")
    await expect(bob.locator("#timeline .event.reopened")).to_contain_text("bob reopened the conversation")
    await expect(bob.locator("#reopen")).to_be_hidden()
    await expect(customer.locator("#banner")).to_have_text("You're chatting with bob from our team.")
    await reply(bob, "Sorry, one more thing: the tracking number is NW-4821.")
    await expect(customer.locator(".message.agent .bubble").last).to_have_text(
        "Sorry, one more thing: the tracking number is NW-4821.")
    # ann's page follows live.
    await expect(ann.locator("#badges")).to_contain_text("assigned")
    await expect(ann.locator("#owner")).to_have_text("With bob")
    assert not bob.errors and not ann.errors and not customer.errors, (bob.errors, ann.errors, customer.errors)
