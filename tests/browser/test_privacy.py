"""The console's privacy controls in a real browser: an admin downloads a customer's
record, erases the customer after typing their id, and finds it in the audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from tests.browser.test_console import HUMAN, log_in
from tests.conftest import service_env
from tests.support.browser import new_page
from tests.support.client import add_account as piped_account, cli, new_sender, say
from tests.support.process import ServiceProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def privacy_service(model, tmp_path_factory) -> Iterator[ServiceProcess]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('privacy') / 'assistant.db'}"
    process = ServiceProcess(service_env(url, model, BUSINESS_HOURS="always")).start(timeout=600)
    try:
        yield process
    finally:
        process.stop()


def admin(service, name: str) -> str:
    return piped_account(service.env["DATABASE_URL"], name, "admin")


async def test_an_admin_downloads_erases_and_reads_the_audit_trail(browser, privacy_service):
    password = admin(privacy_service, "ada")  # the module's only admin account
    sender = new_sender("erase")
    await say(privacy_service.url, sender, HUMAN)
    page = await new_page(browser)
    await log_in(page, privacy_service, "ada", password)
    row = page.locator("#waiting li", has_text=sender)
    await expect(row).to_be_visible()
    await row.get_by_role("button", name="Claim").click()
    await expect(page).to_have_url(re.compile(r"/console/conversations/\d+$"))
    await expect(page.locator("#timeline")).to_contain_text(HUMAN)

    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download full record (JSON)").click()
    saved = await (await download.value).path()
    assert sender in open(saved, encoding="utf-8").read()

    await page.fill("#erase-confirm", "somebody-else")
    await page.get_by_role("button", name="Erase customer").click()
    await expect(page.locator("#toast")).to_contain_text("type the customer's id exactly")
    await page.fill("#erase-confirm", sender)
    await page.get_by_role("button", name="Erase customer").click()
    await expect(page.locator("#erase-result")).to_contain_text("customers 1")
    assert cli(privacy_service.env["DATABASE_URL"], "transcript", "--channel", "rest",
               "--sender", sender).returncode == 1

    await page.get_by_role("link", name="Audit trail").click()
    await page.fill("#audit-action", "erase")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#audit-rows tr").first).to_contain_text("ada")
    await expect(page.locator("#audit-rows")).not_to_contain_text(sender)
    assert not page.errors, page.errors
