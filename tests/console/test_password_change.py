"""A password someone else has seen (the first admin's printed one, one the CLI generated)
must be changed at first sign-in: until then every page leads to the change form and
every API call and WebSocket is refused. Over real HTTP on both backends."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.storage import accounts
from tests.console.support import post_login

MUST_CHANGE = {"error": "change your password first"}


@pytest.fixture
async def client(db, database_url, tmp_path):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models")})
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


async def must_change(db, name: str) -> bool:
    async with db.session() as session:
        return (await accounts.get_agent(session, name)).must_change_password


async def test_only_passwords_someone_else_saw_must_be_changed(db):
    now = utcnow()
    await console_accounts.ensure_first_admin(db, now)
    await console_accounts.add_user(db, "gen", "agent", None, now)
    await console_accounts.add_user(db, "piped", "agent", "chosen by piped", now)
    assert [await must_change(db, n) for n in ("admin", "gen", "piped")] == [True, True, False]
    await console_accounts.set_password(db, "piped", None)
    await console_accounts.set_password(db, "gen", "chosen by gen")
    assert [await must_change(db, n) for n in ("gen", "piped")] == [False, True]


async def test_the_first_admin_changes_the_printed_password_before_anything_else(client, db):
    printed = await console_accounts.ensure_first_admin(db, utcnow())
    login = await post_login(client, "admin", printed)
    assert login.status == 303 and login.headers["Location"].startswith("/console/password?next=")
    page = await client.get("/console/supervisor", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/console/password"
    form = await client.get("/console/password")
    assert form.status == 200 and "Choose your own" in await form.text()
    csrf = {"X-CSRF-Token": re.search(r'name="csrf-token" content="([^"]+)"', await form.text()).group(1)}
    for path in ("/console/api/queue", "/console/api/team", "/console/api/training/models"):
        refused = await client.get(path)
        assert refused.status == 403 and await refused.json() == MUST_CHANGE, path
    change = await client.post("/console/api/canned", json={"shortcut": "x", "text": "y"}, headers=csrf)
    assert change.status == 403 and await change.json() == MUST_CHANGE
    socket = await client.get("/console/ws")
    assert socket.status == 403 and await socket.json() == MUST_CHANGE

    wrong = await client.post("/console/password", json={"current": "guess", "new": "a new passphrase"}, headers=csrf)
    assert wrong.status == 400 and await wrong.json() == {"error": "the current password is wrong"}
    same = await client.post("/console/password", json={"current": printed, "new": printed}, headers=csrf)
    assert same.status == 400 and "differ" in (await same.json())["error"]
    short = await client.post("/console/password", json={"current": printed, "new": "short"}, headers=csrf)
    assert short.status == 400 and "8 characters" in (await short.json())["error"]
    forged = await client.post("/console/password", json={"current": printed, "new": "a new passphrase"})
    assert forged.status == 403 and "CSRF" in (await forged.json())["error"]

    done = await client.post("/console/password", json={"current": printed, "new": "a new passphrase"}, headers=csrf)
    assert done.status == 200, await done.text()
    assert not await must_change(db, "admin")
    assert (await client.get("/console/api/team")).status == 200
    client.session.cookie_jar.clear()
    assert (await post_login(client, "admin", printed)).status == 401
    welcome = await post_login(client, "admin", "a new passphrase")
    assert welcome.status == 303 and welcome.headers["Location"] == "/console/"
