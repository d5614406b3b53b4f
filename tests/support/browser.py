"""Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The machine has no network beyond loopback: Chromium's background services only fail.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@asynccontextmanager
async def chromium() -> AsyncIterator[object]:
    """A headless Chromium; every test opens its own context (cookies, storage) in it."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser, width: int = 1280, height: int = 800, *, accept_dialogs: bool = False):
    """A page in a context of its own, which records page errors and the dialogs it saw
    (dismissed, or accepted with `accept_dialogs`)."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.dialogs = []

    def answer(dialog) -> None:
        page.dialogs.append(dialog.message)
        asyncio.ensure_future(dialog.accept() if accept_dialogs else dialog.dismiss())

    page.on("dialog", answer)
    return page


async def customer_chat(browser, service, sender: str):
    """The customer's web chat page, with a known sender id."""
    page = await new_page(browser, 420, 800)
    await page.context.add_init_script(f"window.localStorage.setItem('brand-assistant-sender', '{sender}')")
    await page.goto(f"{service.url}/chat")
    await expect(page.locator("#presence")).to_have_class(re.compile(r"\bonline\b"))
    return page


async def chat_say(page, text: str) -> None:
    await page.fill("#text", text)
    await page.keyboard.press("Enter")
