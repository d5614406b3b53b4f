"""Erasing a customer who wrote on two channels, through the running service, on both
backends: afterwards no table, no tracker event and (on SQLite) no byte of the database
files holds anything of theirs, another customer is untouched, and both are answered."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.settings import PROJECT_DIR, Settings, endpoint_variables
from bot.storage.models import Base
from tests.support.client import add_account as piped_account, cli, cli_json, is_response, say

pytestmark = pytest.mark.slow


def sync_url(service) -> str:
    return Settings.from_mapping({"DATABASE_URL": service.env["DATABASE_URL"]}).sync_database_url


def tracker_file(service) -> Path | None:
    settings = Settings.from_mapping({"DATABASE_URL": service.env["DATABASE_URL"]})
    return Path(endpoint_variables(settings)["TRACKER_DB"]) if settings.is_sqlite else None


def dump(service) -> str:
    """Every row of every table of the service, and of Rasa's tracker, as text."""
    lines = []
    engine = sa.create_engine(sync_url(service))
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            lines += [f"{table.name} {tuple(row)}" for row in connection.execute(sa.select(table))]
        if tracker_file(service) is None:
            lines += [f"events {tuple(row)}" for row in connection.execute(sa.text("SELECT * FROM events"))]
    engine.dispose()
    if (path := tracker_file(service)) is not None:
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            lines += [f"events {tuple(row)}" for row in connection.execute(sa.text("SELECT * FROM events"))]
        engine.dispose()
    return "\n".join(lines)


def raw_files(service) -> dict[str, bytes]:
    """The SQLite files as bytes, write-ahead logs included."""
    if tracker_file(service) is None:
        return {}
    database = Path(sa.engine.make_url(sync_url(service)).database)
    paths = [p for base in (database, tracker_file(service)) for p in (base, Path(f"{base}-wal"))]
    return {p.name: p.read_bytes() for p in paths if p.exists()}


class Console:
    def __init__(self, url: str, http: aiohttp.ClientSession, csrf: str) -> None:
        self.url, self.http, self.csrf = url, http, csrf

    @classmethod
    async def login(cls, service, http: aiohttp.ClientSession, name: str, password: str) -> Console:
        async with http.get(f"{service.url}/console/login") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        async with http.post(f"{service.url}/console/login", data={"csrf_token": token, "name": name,
                                                                   "password": password}) as response:
            page = await response.text()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        return cls(f"{service.url}/console", http, csrf)

    async def get(self, path: str) -> dict:
        async with self.http.get(f"{self.url}{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: dict | None = None) -> dict:
        async with self.http.post(f"{self.url}{path}", json=body or {},
                                  headers={"X-CSRF-Token": self.csrf}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def waiting(self, customer: str) -> int:
        for _ in range(200):
            rows = (await self.get("/api/queue"))["waiting"]
            if found := next((row["id"] for row in rows if row["customer"] == customer), None):
                return found
            await asyncio.sleep(0.3)
        raise AssertionError(f"{customer} is not in the queue")


def admin(service, name: str) -> str:
    return piped_account(service.env["DATABASE_URL"], name, "admin")


async def webchat(service, sender: str, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={sender}") as ws:
            await ws.send_json({"type": "message", "text": text, "client_id": uuid.uuid4().hex})
            while (await ws.receive_json(timeout=60))["type"] != "message":
                pass


async def rated(service, conversation: int) -> None:
    engine = sa.create_engine(sync_url(service))
    try:
        for _ in range(200):
            with engine.connect() as connection:
                if connection.execute(sa.text("SELECT count(*) FROM satisfaction WHERE conversation_id = :c"),
                                      {"c": conversation}).scalar():
                    return
            await asyncio.sleep(0.3)
    finally:
        engine.dispose()
    raise AssertionError("the rating was not stored")


async def test_a_customer_on_two_channels_is_erased_everywhere(service):
    url = service.env["DATABASE_URL"]
    mark = uuid.uuid4().hex[:12]
    rest_sender, web_sender = f"erin-{mark}", f"erinweb-{mark}"
    keep_mark = uuid.uuid4().hex[:12]
    keeper = f"kim-{keep_mark}"

    # Erin asks a question on REST, then for a person, and writes while waiting.
    asked = await say(service.url, rest_sender, "what are your opening hours?", message_id=f"first-{mark}")
    assert any(is_response(r["text"], "utter_opening_hours") for r in asked)
    await say(service.url, rest_sender, "I want to talk to a human")
    assert await say(service.url, rest_sender, f"my reference is {mark}-rest") == []
    # ... and in the web chat.
    await webchat(service, web_sender, "what are your opening hours")
    await webchat(service, web_sender, f"I want to talk to a human about {mark}-web")
    # Kim is another customer, to be left alone.
    await say(service.url, keeper, f"what are your opening hours? ref {keep_mark}")

    # An admin claims Erin's conversation, notes, flags, replies, and resolves it with a
    # rating question that Erin answers.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        boss = f"boss-{uuid.uuid4().hex[:6]}"
        console = await Console.login(service, http, boss, admin(service, boss))
        conversation = await console.waiting(rest_sender)
        await console.post(f"/api/conversations/{conversation}/claim")
        await console.post(f"/api/conversations/{conversation}/notes", {"text": f"called about {mark}-note"})
        record = await console.get(f"/api/conversations/{conversation}")
        theirs = next(m for m in record["messages"] if m["text"] == f"my reference is {mark}-rest")
        await console.post(f"/api/messages/{theirs['id']}/flag")
        await console.post(f"/api/conversations/{conversation}/reply", {"text": f"Found {mark}-reply, Erin."})
        await console.post(f"/api/conversations/{conversation}/resolve", {"ask_satisfaction": True})
    await say(service.url, rest_sender, "5")
    await rated(service, conversation)
    before = dump(service)
    assert f"{mark}-note" in before and f"{mark}-web" in before and "satisfaction" in before

    erased = {}
    for channel, sender in (("rest", rest_sender), ("webchat", web_sender)):
        result = cli(url, "erase", "--channel", channel, "--sender", sender, "--yes", "--json")
        assert result.returncode == 0, result.stderr
        erased[channel] = json.loads(result.stdout)
    rows = erased["rest"]["rows"]
    assert rows["customers"] == 1 and rows["conversations"] >= 1 and rows["notes"] == 1
    assert rows["satisfaction"] == 1 and rows["inbox"] >= 4 and erased["rest"]["tracker_events"] > 0
    assert erased["webchat"]["rows"]["messages"] >= 3

    after = dump(service)
    assert mark not in after, [line for line in after.splitlines() if mark in line][:5]
    assert keep_mark in after
    for name, content in raw_files(service).items():
        assert mark.encode() not in content, f"{name} still holds the erased customer's data"
    audit = [line for line in after.splitlines() if line.startswith("audit_log") and "'erase'" in line]
    assert len(audit) == 2 and all("'notes'" in line or "webchat" in line for line in audit)

    # The platform delivers Erin's first message again: no second answer, nothing kept.
    assert await say(service.url, rest_sender, "what are your opening hours?", message_id=f"first-{mark}") == []
    assert mark not in dump(service)

    # Both are answered; Erin starts afresh, Kim's record is whole.
    again = await say(service.url, rest_sender, "what are your opening hours?")
    assert any(is_response(r["text"], "utter_opening_hours") for r in again)
    fresh = cli_json(url, "transcript", "--channel", "rest", "--sender", rest_sender)
    assert len(fresh["conversations"]) == 1 and len(fresh["conversations"][0]["messages"]) == 2
    assert any(is_response(r["text"], "utter_opening_hours")
               for r in await say(service.url, keeper, "what are your opening hours?"))
    kept = cli_json(url, "transcript", "--channel", "rest", "--sender", keeper)
    assert kept["conversations"][0]["messages"][0]["text"] == f"what are your opening hours? ref {keep_mark}"


async def test_erasing_asks_to_type_the_sender_again(service):
    sender = f"ask-{uuid.uuid4().hex[:10]}"
    await say(service.url, sender, "what are your opening hours?")
    command = [sys.executable, "-m", "bot", "erase", "--channel", "rest", "--sender", sender]
    env = {**os.environ, "DATABASE_URL": service.env["DATABASE_URL"]}
    refused = subprocess.run(command, input="someone-else\n", capture_output=True, text=True, env=env,
                             cwd=PROJECT_DIR, timeout=120)
    assert refused.returncode == 1 and "nothing was erased" in refused.stderr
    assert cli_json(service.env["DATABASE_URL"], "transcript", "--channel", "rest", "--sender", sender)
    confirmed = subprocess.run(command, input=f"{sender}\n", capture_output=True, text=True, env=env,
                               cwd=PROJECT_DIR, timeout=120)
    assert confirmed.returncode == 0 and "customers" in confirmed.stdout, confirmed.stderr
    assert cli(service.env["DATABASE_URL"], "transcript", "--channel", "rest", "--sender", sender).returncode == 1


def account(service, name: str, role: str) -> str:
    return piped_account(service.env["DATABASE_URL"], name, role)


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_the_console_downloads_erases_and_audits(service):
    url = service.env["DATABASE_URL"]
    mark = uuid.uuid4().hex[:12]
    sender = f"cora-{mark}"
    await say(service.url, sender, f"my parcel {mark} is lost")
    await say(service.url, sender, "I want to talk to a human")
    boss, agent = f"boss-{uuid.uuid4().hex[:6]}", f"agent-{uuid.uuid4().hex[:6]}"
    boss_password, agent_password = account(service, boss, "admin"), account(service, agent, "agent")

    async with jar() as http:
        # A wrong password first: the failed sign-in is recorded too.
        async with http.get(f"{service.url}/console/login") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        async with http.post(f"{service.url}/console/login",
                             data={"csrf_token": token, "name": boss, "password": "wrong-password"}) as response:
            assert response.status == 401
        console = await Console.login(service, http, boss, boss_password)
        conversation = await console.waiting(sender)
        await console.get(f"/api/conversations/{conversation}")
        async with http.get(f"{console.url}/api/conversations/{conversation}/export") as response:
            assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
            record = await response.json()
        assert record["customer"]["id"] == sender
        assert f"my parcel {mark} is lost" in [m["text"] for m in record["messages"]]
        async with http.get(f"{service.url}/console/audit") as response:
            assert response.status == 200 and "Audit trail" in await response.text()

        async with http.post(f"{console.url}/api/conversations/{conversation}/erase", json={"confirm": "someone"},
                             headers={"X-CSRF-Token": console.csrf}) as response:
            assert response.status == 400 and "nothing was erased" in (await response.json())["error"]
        erased = await console.post(f"/api/conversations/{conversation}/erase", {"confirm": sender})
        assert erased["rows"]["customers"] == 1 and erased["tracker_events"] > 0
        trail = (await console.get("/api/audit?limit=50"))["entries"]

    mine = [(e["actor"], e["action"]) for e in trail]
    for expected in [(boss, "sign_in_failed"), (boss, "sign_in"), (boss, "conversation_opened"), (boss, "export"),
                     (boss, "erase"), ("cli", "user_added")]:
        assert expected in mine, expected
    assert mark not in json.dumps(trail) and sender not in json.dumps(trail)
    printed = cli(url, "audit", "--actor", boss, "--action", "erase")
    assert printed.returncode == 0 and "erase" in printed.stdout and boss in printed.stdout
    assert mark not in dump(service)

    # An agent may neither download, erase nor read the trail.
    async with jar() as http:
        console = await Console.login(service, http, agent, agent_password)
        for method, path in (("GET", f"/api/conversations/{conversation}/export"), ("GET", "/api/audit"),
                             ("POST", f"/api/conversations/{conversation}/erase")):
            async with http.request(method, f"{console.url}{path}", json={"confirm": sender},
                                    headers={"X-CSRF-Token": console.csrf}) as response:
                assert response.status == 403, (path, response.status)
