"""A fresh install's Models page in headless Chromium: the first model, which no gate
measured, shows no figures; a trainer clicks Measure, watches it run, and the figures
appear in its row.

The service runs on a copy of the tiny project, its first model from the test model cache
(tests/support/model.py), as `bot train` would have left it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from bot.training.project import Project
from bot.training.registry import Registry
from tests.browser.test_trainer import log_in
from tests.support.browser import new_page
from tests.support.client import add_account
from tests.support.model import first_model
from tests.support.process import ServiceProcess
from tests.training.conftest import TINY, copy_project, project_env

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]
SHARE = re.compile(r"^\d{1,3}\.\d%$")


class FreshInstall:
    def __init__(self, root: Path) -> None:
        self.project = copy_project(Project.at(TINY), root / "project")
        self.models = root / "models"
        self.database_url = f"sqlite+aiosqlite:///{root / 'assistant.db'}"
        self.env = project_env(self.project, self.models, DATABASE_URL=self.database_url, MODEL_POLL_INTERVAL="0.3",
                               POLL_INTERVAL="0.2", DEMO_ORDERS="false", CONSOLE_FIRST_ADMIN="false",
                               BUSINESS_HOURS="always", TRAINING_NICENESS="0")
        self.version = first_model(self.project, self.models, "tiny").version


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> FreshInstall:
    return FreshInstall(tmp_path_factory.mktemp("fresh"))


@pytest.fixture(scope="module")
def service(install) -> Iterator[ServiceProcess]:
    process = ServiceProcess(install.env).start(timeout=300)
    try:
        yield process
    finally:
        process.stop()


async def test_a_trainer_measures_the_first_model_and_sees_its_figures(browser, service, install):
    password = add_account(install.database_url, "tess", "trainer")
    tess = await new_page(browser, 1280, 900)
    await log_in(tess, service, "tess", password, "/console/review")
    await tess.click(".nav >> text=Models")
    await expect(tess.locator("#live")).to_have_text("live")
    row = tess.locator(f"#version-rows tr[data-version='{install.version}']")
    figures = [row.locator(f"td[data-figure={name}]")
               for name in ("macro_f1", "in_scope_accuracy", "wrong_answer_rate", "oos_recall")]
    for cell in figures:
        await expect(cell).to_have_text("—")
    await expect(row).to_contain_text("first model")

    await row.get_by_role("button", name="Measure").click()
    await expect(tess.locator("#run-status")).to_have_text("measuring…", timeout=15_000)
    await expect(tess.locator("#run-title")).to_contain_text("Measurement 1, started by tess")
    await expect(tess.locator("#run-steps")).to_contain_text(f"measuring {install.version}")
    await expect(tess.locator("#train")).to_be_disabled()  # one run at a time
    await expect(row.get_by_role("button", name="Measure")).to_be_disabled()

    await expect(tess.locator("#run-status")).to_have_text("measured", timeout=300_000)
    await expect(tess.locator("#run-report")).to_contain_text("Measured (held-out figures only")
    await expect(figures[0]).to_have_text(re.compile(r"^\d\.\d{3}$"))
    for cell in figures[1:3]:
        await expect(cell).to_have_text(SHARE)
    # The tiny project has no out-of-scope examples, so none is held out: nothing to show.
    await expect(figures[3]).to_have_text("—")
    await expect(row.get_by_role("button", name="Measure")).to_have_count(0)
    await expect(tess.locator("#train")).to_be_enabled()
    await row.get_by_role("button", name="Report").click()
    await expect(tess.locator(".report-row")).to_contain_text("in-scope answered right")
    assert Registry(install.models).active().version == install.version  # measured, still the one answering
    assert tess.errors == []
