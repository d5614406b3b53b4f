"""The trainers' JSON API over real HTTP (the web role of the app, on both backends): roles,
CSRF, clear errors for bad input, and edits that land in the project's files."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.training.project import Project
from tests.training.conftest import demo_copy, project_env  # noqa: F401  (a fixture)
from tests.training.test_review import conversation


@pytest.fixture
async def client(db, database_url, demo_copy: Project, tmp_path):
    settings = Settings.from_mapping({**project_env(demo_copy, tmp_path / "models"), "DATABASE_URL": database_url,
                                      "CONSOLE_FIRST_ADMIN": "false"})
    for name, role in (("tess", "trainer"), ("ann", "agent")):
        await console_accounts.add_user(db, name, role, f"password-of-{name}", utcnow())
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


async def logged_in(client: TestClient, name: str) -> dict[str, str]:
    """Log in through the form; the headers that carry the page's CSRF token."""
    form = await (await client.get("/console/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = await client.post("/console/login", data={"name": name, "password": f"password-of-{name}",
                                                         "csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    page = await (await client.get(response.headers["Location"])).text()
    return {"X-CSRF-Token": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)}


async def customer_message(db, text: str, confidence: float = 0.2) -> int:
    """A customer message the model was unsure of, as the worker records one."""
    async with db.session() as session:
        (message_id,) = await conversation(session, f"c-{abs(hash(text))}", [("customer", text, "greet", confidence)])
        return message_id


async def test_roles_and_csrf(client):
    assert (await client.get("/console/api/training/intents")).status == 401
    agent = await logged_in(client, "ann")
    response = await client.get("/console/api/training/intents")
    assert response.status == 403 and (await response.json())["error"] == "your role may not do this"
    client.session.cookie_jar.clear()
    headers = await logged_in(client, "tess")
    assert (await client.get("/console/api/training/intents")).status == 200
    forged = await client.post("/console/api/training/intents/greet/examples", json={"text": "hola"})
    assert forged.status == 403 and "CSRF" in (await forged.json())["error"]
    ok = await client.post("/console/api/training/intents/greet/examples", json={"text": "hola"}, headers=headers)
    assert ok.status == 200
    assert agent != headers  # a fresh session at login: a new token


@pytest.mark.parametrize("path, body, status, error", [
    ("/console/api/training/intents/greet/examples", {"text": "  "}, 400, "'text' must be non-empty text"),
    ("/console/api/training/intents/greet/examples", {"text": "hi"}, 409, "greet has this example already"),
    ("/console/api/training/intents/no_such_intent/examples", {"text": "x"}, 400, "no intent 'no_such_intent'"),
    ("/console/api/training/intents", {"name": "Gift Cards", "example": "x", "response": "y"}, 400,
     "lower_case_with_underscores"),
    ("/console/api/training/intents", {"name": "greet", "example": "x", "response": "y"}, 400, "exists"),
    ("/console/api/training/review/teach", {"message_ids": "7", "intent": "greet"}, 400, "list of message ids"),
    ("/console/api/training/review/teach", {"message_ids": [999999], "intent": "greet"}, 404,
     "no customer message 999999"),
    ("/console/api/training/flows", {"kind": "poem", "yaml": "- poem: x"}, 400, "a rule or a story"),
    ("/console/api/training/flows", {"kind": "rule", "yaml": "- rule: x\n  steps:\n  - intent: nope\n"}, 400,
     "no intent 'nope'"),
    ("/console/api/training/flows/remove", {"kind": "rule", "name": "no such rule"}, 400, "no rule called"),
    ("/console/api/training/intents/greet/response", {"text": "x" * 5000}, 400, "longer than 4096"),
    ("/console/api/training/models/model-x/activate", {}, 409, "no model version 'model-x'"),
    ("/console/api/training/models/rollback", {}, 409, "no earlier active model"),
])
async def test_bad_requests_get_the_reason(client, demo_copy, path, body, status, error):
    headers = await logged_in(client, "tess")
    files = {p: p.read_text() for p in (demo_copy.nlu_file, demo_copy.domain_file, demo_copy.rules_file)}
    response = await client.post(path, json=body, headers=headers)
    assert response.status == status, await response.text()
    assert error in (await response.json())["error"]
    assert {p: p.read_text() for p in files} == files


async def test_malformed_json_is_refused(client):
    headers = await logged_in(client, "tess")
    response = await client.post("/console/api/training/flows", data=b"{not json", headers=headers)
    assert response.status == 400 and (await response.json())["error"] == "the body must be JSON"


async def test_teaching_a_reviewed_message_and_dismissing_another(client, db, demo_copy):
    headers = await logged_in(client, "tess")
    taught = await customer_message(db, "howdy partner, anyone around?")
    spam = await customer_message(db, "buy followers cheap www.spam.example")
    groups = (await (await client.get("/console/api/training/review")).json())["groups"]
    assert {g["key"] for g in groups} >= {"howdy partner anyone around", "buy followers cheap www spam example"}

    response = await client.post("/console/api/training/review/teach",
                                 json={"message_ids": [taught], "intent": "greet"}, headers=headers)
    assert await response.json() == {"intent": "greet", "added": 1, "new_intent": False}
    assert "    - howdy partner, anyone around?\n" in demo_copy.nlu_file.read_text()
    assert (await client.post("/console/api/training/review/dismiss", json={"message_ids": [spam]},
                              headers=headers)).status == 200
    open_groups = (await (await client.get("/console/api/training/review")).json())["groups"]
    assert not {g["key"] for g in open_groups} & {"howdy partner anyone around", "buy followers cheap www spam example"}
    every = (await (await client.get("/console/api/training/review?all=1")).json())["groups"]
    assert {g["key"] for g in every if g["done"]} >= {"howdy partner anyone around"}


async def test_an_intent_in_full(client):
    await logged_in(client, "tess")
    detail = await (await client.get("/console/api/training/intents/order_status")).json()
    assert detail["response"] is None  # a form answers it
    assert any(f["kind"] == "story" for f in detail["flows"]) and "order_status_form" in detail["actions"]
    assert (await client.get("/console/api/training/intents/nothing_like_it")).status == 404
    overview = (await (await client.get("/console/api/training/intents")).json())["intents"]
    greet = next(i for i in overview if i["name"] == "greet")
    assert greet["examples"] >= 15 and greet["response"].startswith("Hi!")
