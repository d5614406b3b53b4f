"""The trainers' pages in headless Chromium against the running service: review, teach a
new intent, edit examples, responses, rules and stories, train from the console and watch
it live, the gate's report, activation without a restart, rollback, and an agent's
"the bot should have answered this" reaching the review.

One service for the module, on a copy of the tiny project (its pipeline trains in seconds),
so the repository's own data is never edited.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect
from ruamel.yaml import YAML

from bot.settings import PROJECT_DIR
from bot.training.project import Project
from bot.training.registry import Registry
from tests.support.browser import chat_say, customer_chat, new_page
from tests.support.client import add_account, cli_json, new_sender, say
from tests.support.process import ServiceProcess
from tests.training.conftest import TINY, copy_project, project_env

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

DOCS = PROJECT_DIR / "docs"
QUESTION = "do you sell gift cards?"
ANSWER = "Yes! Gift cards from £10, online and in every store."


class TrainerSetup:
    def __init__(self, root: Path) -> None:
        self.project = copy_project(Project.at(TINY), root / "project")
        self.models = root / "models"
        self.database_url = f"sqlite+aiosqlite:///{root / 'assistant.db'}"
        self.env = project_env(self.project, self.models, DATABASE_URL=self.database_url, MODEL_POLL_INTERVAL="0.3",
                               POLL_INTERVAL="0.2", DEMO_ORDERS="false", CONSOLE_FIRST_ADMIN="false",
                               BUSINESS_HOURS="always", GATE_TOLERANCE="0.2", TRAINING_NICENESS="0")

    def bot(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, env={**os.environ, **self.env},
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        return result


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> TrainerSetup:
    setup = TrainerSetup(tmp_path_factory.mktemp("trainer"))
    setup.bot("train", "--if-missing")
    return setup


@pytest.fixture(scope="module")
def service(setup) -> Iterator[ServiceProcess]:
    process = ServiceProcess(setup.env).start(timeout=600)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def people(setup, service) -> dict[str, str]:
    passwords = {}
    for name, role in (("tess", "trainer"), ("ann", "agent"), ("ada", "admin")):
        passwords[name] = add_account(setup.database_url, name, role)
    return passwords


async def log_in(page, service: ServiceProcess, name: str, password: str, landing: str) -> None:
    await page.goto(f"{service.url}/console/")
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login")
    await expect(page).to_have_url(f"{service.url}{landing}")


def nlu_examples(project: Project) -> dict[str, list[str]]:
    data = YAML(typ="safe").load(project.nlu_file.read_text())
    return {item["intent"]: [line[2:] for line in item["examples"].splitlines()]
            for item in data["nlu"] if "intent" in item}


def wait_for_model(service: ServiceProcess, model_file: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while service.health()["model"] != model_file and time.monotonic() < deadline:
        time.sleep(0.3)
    assert service.health()["model"] == model_file


async def test_each_role_sees_only_its_pages(browser, service, people):
    tess = await new_page(browser, 1280, 900, accept_dialogs=True)
    await log_in(tess, service, "tess", people["tess"], "/console/review")
    nav = tess.locator(".nav")
    await expect(nav).to_have_text(re.compile(r"^\s*Review\s+Intents\s+Models\s*$"))
    response = await tess.goto(f"{service.url}/console/")
    assert response.status == 403  # trainers do not work the queue

    ann = await new_page(browser, 1280, 900, accept_dialogs=True)
    await log_in(ann, service, "ann", people["ann"], "/console/")
    for path in ("/console/review", "/console/models", "/console/intents/greet"):
        assert (await ann.goto(f"{service.url}{path}")).status == 403
    await ann.goto(f"{service.url}/console/")
    csrf = await ann.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = await ann.evaluate("""async (csrf) => {
        const r = await fetch('/console/api/training/runs', {method: 'POST', headers: {'X-CSRF-Token': csrf,
            'Content-Type': 'application/json'}, body: '{}'});
        return [r.status, await r.json()];
    }""", csrf)
    assert answer == [403, {"error": "your role may not do this"}]

    ada = await new_page(browser, 1280, 900, accept_dialogs=True)
    await log_in(ada, service, "ada", people["ada"], "/console/")
    await expect(ada.locator(".nav")).to_contain_text("Review")
    await expect(ada.locator(".nav")).to_contain_text("Queue")


async def test_from_an_unknown_question_to_an_answer_without_a_restart(browser, service, setup, people):
    """The trainer's loop as a new user tries it, every step in the browser."""
    pid = service.process.pid
    before = await say(service.url, new_sender("customer"), QUESTION)
    assert ANSWER not in [r.get("text") for r in before]
    for text in ("Do you sell gift cards", "can i pay with klarna", "is there a student discount?"):
        await say(service.url, new_sender("customer"), text)
    v1 = Registry(setup.models).active()

    tess = await new_page(browser, 1280, 900, accept_dialogs=True)
    await log_in(tess, service, "tess", people["tess"], "/console/review")
    group = tess.locator(".review-group", has_text=QUESTION)
    await expect(group).to_be_visible()
    await expect(group.locator(".count")).to_have_text("×2")  # the same question, written twice
    await expect(tess.locator(".review-group")).to_have_count(3)
    await tess.screenshot(path=str(DOCS / "console-review.png"))
    await expect(group.locator(".badge.reason-badge").first).to_contain_text(re.compile("fallback|low confidence"))
    await group.locator("select.teach-intent").select_option("__new__")
    await group.locator("input.new-intent-name").fill("gift_cards")
    await group.locator("textarea.new-intent-response").fill(ANSWER)
    await group.get_by_role("button", name="Teach").click()
    # The two spellings are one example: the newest is kept.
    await expect(tess.locator("#toast")).to_contain_text("New intent gift_cards: 1 example added")
    await expect(group).to_have_count(0)
    assert nlu_examples(setup.project)["gift_cards"] == ["Do you sell gift cards"]
    assert "gift_cards" in setup.project.domain_file.read_text()
    await tess.check("#show-done")
    await expect(tess.locator(".review-group.done", has_text=QUESTION)).to_be_visible()

    # More examples on the intent's page: add, edit one, remove one.
    await tess.click(".nav >> text=Intents")
    await tess.locator("#intent-rows tr[data-intent=gift_cards] a").click()
    await expect(tess).to_have_url(f"{service.url}/console/intents/gift_cards")
    await expect(tess.locator("#response-text")).to_have_value(ANSWER)
    for text in ("can i buy a gift card", "gift vouchers?", "do you have gift cards", "are gift cards available",
                 "i'd like a gift card please", "a typo exampel"):
        await tess.fill("#example-text", text)
        await tess.click("#add-example-button")
        await expect(tess.locator(".example", has_text=text)).to_be_visible()
    await tess.fill("#example-text", "Gift vouchers?")
    await tess.click("#add-example-button")
    await expect(tess.locator("#toast")).to_contain_text("has this example already")
    typo = tess.locator(".example", has_text="a typo exampel")
    await typo.get_by_role("button", name="Edit").click()
    await typo.locator("input.example-edit").fill("gift card for my mum")
    await typo.get_by_role("button", name="Save").click()
    await expect(tess.locator(".example", has_text="gift card for my mum")).to_be_visible()
    await tess.locator(".example", has_text="are gift cards available").get_by_role("button", name="Remove").click()
    await expect(tess.locator(".example", has_text="are gift cards available")).to_have_count(0)
    await expect(tess.locator("#example-count")).to_have_text("6")
    assert nlu_examples(setup.project)["gift_cards"] == [
        "Do you sell gift cards", "can i buy a gift card", "gift vouchers?", "do you have gift cards",
        "i'd like a gift card please", "gift card for my mum"]
    await expect(tess.locator(".flow", has_text="ask gift_cards")).to_contain_text("action: utter_gift_cards")

    # Train from the Models page, watched live; it passes the gate and becomes active.
    await tess.click(".nav >> text=Models")
    await expect(tess.locator("#live")).to_have_text("live")
    await expect(tess.locator("#version-rows tr")).to_have_count(1)
    await tess.click("#train")
    await expect(tess.locator("#run-status")).to_have_text("training…", timeout=15_000)
    await expect(tess.locator("#run-steps li").first).to_contain_text("validating the training data", timeout=60_000)
    await expect(tess.locator("#train")).to_be_disabled()
    await expect(tess.locator("#run-status")).to_have_text("passed", timeout=600_000)
    await expect(tess.locator("#run-steps")).to_contain_text("gate: NLU on a held-out 20% of the examples")
    await expect(tess.locator("#run-report")).to_contain_text("Gate: PASSED")
    await tess.click("#run-log-box summary")
    await expect(tess.locator("#run-log")).to_contain_text(re.compile(r"\w"))
    v2 = Registry(setup.models).active()
    assert v2.version != v1.version
    await expect(tess.locator(f"#version-rows tr[data-version='{v2.version}']")).to_contain_text("active")
    await expect(tess.locator(f"#version-rows tr[data-version='{v2.version}'] .serving")).to_be_visible(timeout=60_000)
    # The gate's held-out figures, as a trainer reads them: what customers would get right and wrong.
    held_out = v2.gate["nlu"]
    for figure in ("in_scope_accuracy", "wrong_answer_rate", "oos_recall"):
        cell = tess.locator(f"#version-rows tr[data-version='{v2.version}'] td[data-figure='{figure}']")
        # As JavaScript's toFixed rounds: the float's exact value, a tie upwards.
        expected = "—" if held_out[figure] is None else (
            f"{Decimal(100 * held_out[figure]).quantize(Decimal('0.1'), ROUND_HALF_UP)}%")
        await expect(cell).to_have_text(expected)
    await tess.screenshot(path=str(DOCS / "console-models.png"), full_page=True)

    wait_for_model(service, v2.file)
    customer = await customer_chat(browser, service, new_sender("web"))
    await chat_say(customer, QUESTION)
    await expect(customer.locator(".message.bot .bubble").last).to_have_text(ANSWER)
    assert service.process.pid == pid and service.process.poll() is None

    # And back: the rollback button returns the previous model to service.
    await expect(tess.locator("#rollback")).to_have_text(f"Roll back to {v1.version}")
    await tess.click("#rollback")
    await expect(tess.locator(f"#version-rows tr[data-version='{v1.version}']")).to_contain_text("active")
    wait_for_model(service, v1.file)
    await expect(tess.locator(f"#version-rows tr[data-version='{v1.version}'] .serving")).to_be_visible()
    assert Registry(setup.models).active().version == v1.version
    # Forward again, with the version's own Activate button.
    await tess.locator(f"#version-rows tr[data-version='{v2.version}']").get_by_role("button", name="Activate").click()
    await expect(tess.locator(f"#version-rows tr[data-version='{v2.version}'] .serving")).to_be_visible(timeout=60_000)
    assert not tess.errors, tess.errors


async def test_a_worse_model_is_refused_on_the_page_with_the_reasons(browser, service, setup, people):
    config = setup.project.config_file
    original = config.read_text()
    active = Registry(setup.models).active()
    config.write_text(original.replace("- name: LogisticRegressionClassifier", "- name: KeywordIntentClassifier"))
    try:
        tess = await new_page(browser, 1280, 900, accept_dialogs=True)
        await log_in(tess, service, "tess", people["tess"], "/console/review")
        await tess.goto(f"{service.url}/console/models")
        await expect(tess.locator("#train")).to_be_enabled()
        await tess.click("#train")
        await expect(tess.locator("#run-status")).to_have_text("refused by the gate", timeout=600_000)
        await expect(tess.locator("#run-report")).to_contain_text("Gate: REFUSED")
        await expect(tess.locator("#run-report")).to_contain_text("held-out macro F1 fell from")
        refused = Registry(setup.models).versions()[-1]
        assert refused.status == "refused"
        row = tess.locator(f"#version-rows tr[data-version='{refused.version}']")
        await expect(row).to_contain_text("refused")
        # Overruling the gate is an admin's call, not a trainer's.
        await expect(row.get_by_role("button", name="Activate")).to_have_count(0)
        await row.get_by_role("button", name="Report").click()
        await expect(tess.locator(".report-row")).to_contain_text("Intents whose F1 dropped")
        assert Registry(setup.models).active().version == active.version

        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        ada = await context.new_page()
        reason = "the held-out set predates the new intents"
        ada.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept(reason)))
        await log_in(ada, service, "ada", people["ada"], "/console/")
        await ada.goto(f"{service.url}/console/models")
        row = ada.locator(f"#version-rows tr[data-version='{refused.version}']")
        await row.get_by_role("button", name="Activate anyway").click()
        await expect(ada.locator(".forced-row")).to_contain_text("Activated against the gate by ada")
        await expect(ada.locator(".forced-row")).to_contain_text(reason)
        entry = Registry(setup.models).get(refused.version)
        assert entry.status == "active" and entry.forced["by"] == "ada" and entry.forced["reason"] == reason
        await context.close()
    finally:
        config.write_text(original)
        Registry(setup.models).activate(active.version)


async def test_two_trainings_at_once_are_refused(service, people):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{service.url}/console/login") as response:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        async with http.post(f"{service.url}/console/login", allow_redirects=False,
                             data={"name": "tess", "password": people["tess"], "csrf_token": csrf}) as response:
            assert response.status == 303
        async with http.get(f"{service.url}/console/models") as response:
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', await response.text()).group(1)
        headers = {"X-CSRF-Token": csrf}
        first, second = await asyncio.gather(
            http.post(f"{service.url}/console/api/training/runs", json={"activate": False}, headers=headers),
            http.post(f"{service.url}/console/api/training/runs", json={"activate": False}, headers=headers))
        statuses = sorted([first.status, second.status])
        assert statuses == [200, 409], statuses
        busy = first if first.status == 409 else second
        assert "a training is running already" in (await busy.json())["error"]
        started = (await (first if first.status == 200 else second).json())["run_id"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            async with http.get(f"{service.url}/console/api/training/models") as response:
                run = (await response.json())["run"]
            if run["id"] == started and run["status"] != "running":
                break
            await asyncio.sleep(0.5)
        assert run["status"] == "passed" and not run["activate"], run


async def test_rules_and_stories_are_edited_in_yaml_with_clear_errors(browser, service, setup, people):
    rules = setup.project.rules_file
    tess = await new_page(browser, 1280, 900, accept_dialogs=True)
    await log_in(tess, service, "tess", people["tess"], "/console/review")
    await tess.goto(f"{service.url}/console/intents/opening_hours")
    await expect(tess.locator(".flow", has_text="opening hours")).to_contain_text("utter_opening_hours")

    await tess.click("#add-rule")
    editor = tess.locator(".flow textarea.flow-edit").first
    await expect(editor).to_have_value(re.compile(r"- rule: answer opening hours\n  steps:\n  - intent: opening_hours"))
    before = rules.read_text()
    await editor.fill("- rule: hours twice\n  steps:\n  - intent: opening_hour\n  - action: utter_opening_hours\n")
    await tess.locator(".flow").first.get_by_role("button", name="Save").click()
    await expect(tess.locator("#toast")).to_contain_text("no intent 'opening_hour' in the domain")
    assert rules.read_text() == before
    await editor.fill("- rule: hours twice\n  steps:\n  - intent: opening_hours\n  - action: utter_opening_hours\n")
    await tess.locator(".flow").first.get_by_role("button", name="Save").click()
    await expect(tess.locator(".flow[data-name='hours twice']")).to_be_visible()
    assert rules.read_text().startswith(before.rstrip("\n"))
    assert "- rule: hours twice\n" in rules.read_text()

    await tess.locator(".flow[data-name='hours twice']").get_by_role("button", name="Delete").click()
    await expect(tess.locator(".flow[data-name='hours twice']")).to_have_count(0)
    assert rules.read_text() == before

    await tess.fill("#response-text", "We're open 9 to 6, Monday to Saturday.")
    await tess.click("#save-response")
    await expect(tess.locator("#toast")).to_contain_text("Response saved")
    assert "We're open 9 to 6, Monday to Saturday." in setup.project.domain_file.read_text()
    assert not tess.errors, tess.errors


async def test_an_agent_flags_a_message_and_the_trainers_see_it(browser, service, setup, people):
    sender = new_sender("flag")
    await say(service.url, sender, "hello")
    await say(service.url, sender, "what time do you open on bank holidays")
    transcript = cli_json(setup.database_url, "transcript", "--channel", "rest", "--sender", sender)
    conversation_id = transcript["conversations"][-1]["id"]
    ada = await new_page(browser, 1280, 900, accept_dialogs=True)
    await log_in(ada, service, "ada", people["ada"], "/console/")
    await ada.goto(f"{service.url}/console/conversations/{conversation_id}")
    message = ada.locator("#timeline .message.customer", has_text="bank holidays")
    await message.get_by_role("button", name="Bot should have answered").click()
    await expect(message.locator(".flagged-note")).to_have_text("Flagged for the trainers")
    await expect(ada.locator("#timeline .event.flag_for_training")).to_contain_text("ada flagged a message")

    await ada.goto(f"{service.url}/console/review")
    group = ada.locator(".review-group", has_text="bank holidays")
    await expect(group).to_contain_text("flagged by an agent")
    await group.get_by_role("button", name="Dismiss").click()
    await expect(group).to_have_count(0)
    assert not ada.errors, ada.errors
