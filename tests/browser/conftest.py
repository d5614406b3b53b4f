"""Browser tests: one Chromium per test, each with fresh cookies and storage."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser import chromium

pytestmark = pytest.mark.browser
# Generous: the answer comes from the real model, on a machine that may be busy.
expect.set_options(timeout=30_000)


@pytest.fixture
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser):
    context = await browser.new_context(viewport={"width": 420, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.console_errors = errors
    yield page
    await context.close()
