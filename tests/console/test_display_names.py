"""The name customers see for an agent: set by the agent in the console, by an admin in
the console or with the CLI; shown to customers in the web chat (joined, replies, the
history), while the history, the console and the audit trail keep the login name. Over
real HTTP and WebSockets on both backends."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Roles, create_app
from bot.bus import LocalBus, customer_topic
from bot.console import accounts as console_accounts
from bot.console.accounts import AccountError, check_display_name
from bot.messages import OutgoingMessage, utcnow
from bot.settings import Settings
from bot.storage import accounts
from bot.storage.models import AuditEntry, Message, OutboxItem
from channels.base import Delivery
from channels.webchat import WebchatChannel
from tests.console.support import logged_in
from tests.console.test_desk import agents, queued
from tests.support.client import cli

WS = "/webhooks/webchat/ws"


@pytest.mark.parametrize("given, kept", [("Ann", "Ann"), ("  Ann S.  ", "Ann S."), ("Zoë Ñúñez", "Zoë Ñúñez"),
                                         ("x" * 64, "x" * 64), (" " + "y" * 64 + " ", "y" * 64)])
def test_a_display_name_is_trimmed_printable_text(given, kept):
    assert check_display_name(given) == kept


@pytest.mark.parametrize("given, why", [("", "1-64 characters"), ("   ", "1-64 characters"), ("z" * 65, "1-64"),
                                        ("Ann\nadmin", "control characters"), ("Ann\t", None),
                                        ("A\x1b[31mnn", "control characters"), ("An\u200bn", "control characters"),
                                        ("\u202enimda", "control characters")])
def test_anything_else_is_refused_with_a_reason(given, why):
    if why is None:  # a tab at the end is trimmed like a space
        assert check_display_name(given) == "Ann"
        return
    with pytest.raises(AccountError, match=why):
        check_display_name(given)


@pytest.fixture
async def client(db, database_url, tmp_path):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models")})
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


async def display_name_of(db, name: str) -> str | None:
    async with db.session() as session:
        return (await accounts.get_agent(session, name)).display_name


async def account_form(client: TestClient) -> tuple[str, str]:
    page = await (await client.get("/console/password")).text()
    return page, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_an_agent_sets_their_own_name_with_the_form(client, db):
    await agents(db, "ann")
    await logged_in(client, "ann")
    page, token = await account_form(client)
    assert "Your name shown to customers" in page and 'placeholder="ann"' in page
    # Without the CSRF token nothing changes.
    forged = await client.post("/console/display-name", data={"display_name": "Evil"}, allow_redirects=False)
    assert forged.status == 403 and await display_name_of(db, "ann") is None

    refused = await client.post("/console/display-name", data={"display_name": "Ann\nthe admin", "csrf_token": token},
                                allow_redirects=False)
    assert refused.status == 400
    assert "cannot contain control characters" in re.search(r'id="display-name-error">([^<]*)<',
                                                             await refused.text()).group(1)
    saved = await client.post("/console/display-name", data={"display_name": "  Ann S.  ", "csrf_token": token},
                              allow_redirects=False)
    assert saved.status == 303 and saved.headers["Location"] == "/console/password?saved=display-name"
    page = await (await client.get(saved.headers["Location"])).text()
    assert 'value="Ann S."' in page and "customers see you as “Ann S.”" in page
    assert await display_name_of(db, "ann") == "Ann S."

    cleared = await client.post("/console/display-name", data={"clear": "1", "display_name": "", "csrf_token": token},
                                allow_redirects=False)
    assert cleared.status == 303 and await display_name_of(db, "ann") is None
    async with db.session() as session:
        audit = (await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
                                       .where(AuditEntry.action == "display_name_set"))).all()
    assert [tuple(a) for a in audit] == [("ann", "display_name_set", "user:ann")] * 2


async def test_a_script_sets_it_with_json_and_admins_set_anyones(client, db):
    await agents(db, "ann", "bob")
    await agents(db, "ada", role="admin")
    ann = await logged_in(client, "ann")
    answer = await client.post("/console/display-name", json={"display_name": "Ann"}, headers=ann)
    assert answer.status == 200 and await answer.json() == {"display_name": "Ann", "shown_as": "Ann"}
    answer = await client.post("/console/display-name", json={}, headers=ann)
    assert answer.status == 400 and "give a display_name" in (await answer.json())["error"]
    answer = await client.post("/console/display-name", json={"display_name": 12}, headers=ann)
    assert answer.status == 400 and "must be text" in (await answer.json())["error"]
    # An agent may not name a colleague.
    answer = await client.post("/console/api/agents/bob/display-name", json={"display_name": "Bobby"}, headers=ann)
    assert answer.status == 403 and await display_name_of(db, "bob") is None

    client.session.cookie_jar.clear()
    ada = await logged_in(client, "ada")
    answer = await client.post("/console/api/agents/bob/display-name", json={"display_name": " Bob M. "}, headers=ada)
    assert answer.status == 200 and await answer.json() == {"name": "bob", "display_name": "Bob M."}
    answer = await client.post("/console/api/agents/bob/display-name", json={"display_name": "x" * 65}, headers=ada)
    assert answer.status == 400 and "1-64" in (await answer.json())["error"]
    answer = await client.post("/console/api/agents/bob/display-name", json={"display_name": ["Bob"]}, headers=ada)
    assert answer.status == 400 and "must be text" in (await answer.json())["error"]
    answer = await client.post("/console/api/agents/nobody/display-name", json={"display_name": "X"}, headers=ada)
    assert answer.status == 404
    team = {a["name"]: a["display_name"] for a in (await (await client.get("/console/api/team")).json())["agents"]}
    assert team == {"ada": None, "ann": "Ann", "bob": "Bob M."}


async def receive_until(ws, kind: str) -> dict:
    while (frame := await ws.receive_json(timeout=10))["type"] != kind:
        pass
    return frame


async def test_the_customer_sees_the_display_name_and_the_history_keeps_the_login(client, db):
    await agents(db, "ann")
    await console_accounts.set_display_name(db, "ann", "Ann from Northwind")
    sender = f"dn-{uuid.uuid4().hex[:8]}"
    conversation_id = await queued(db, sender)
    ann = await logged_in(client, "ann")
    async with client.ws_connect(f"{WS}?sender={sender}") as chat:
        assert (await chat.receive_json(timeout=10))["status"] == "queued"
        assert (await client.post(f"/console/api/conversations/{conversation_id}/claim", headers=ann)).status == 200
        joined = await receive_until(chat, "status")
        assert joined == {"type": "status", "status": "assigned", "agent_name": "Ann from Northwind"}
    reply = await client.post(f"/console/api/conversations/{conversation_id}/reply", json={"text": "Hi, Ann here"},
                              headers=ann)
    message_id = (await reply.json())["message_id"]
    async with client.ws_connect(f"{WS}?sender={sender}") as chat:
        history = await chat.receive_json(timeout=10)
    assert history["agent_name"] == "Ann from Northwind"
    assert [(m["author"], m["agent_name"]) for m in history["messages"]] == [("agent", "Ann from Northwind")]
    assert '"ann"' not in json.dumps(history)  # the login name is never sent to the customer

    # The history and the console name the account; the outbox carries both.
    async with db.session() as session:
        stored = await session.get(Message, message_id)
        item = (await session.execute(select(OutboxItem).where(OutboxItem.message_id == message_id))).scalar_one()
    assert stored.agent_name == "ann"
    assert (item.payload["agent_name"], item.payload["agent_shown_as"]) == ("ann", "Ann from Northwind")
    record = await (await client.get(f"/console/api/conversations/{conversation_id}")).json()
    assert record["messages"][-1]["agent_name"] == "ann" and record["conversation"]["agent"] == "ann"

    # The live frame the web chat channel sends from that outbox item.
    bus = LocalBus()
    async with bus.subscribe(customer_topic(f"webchat:{sender}")) as frames:
        await WebchatChannel(bus).send(Delivery(OutgoingMessage.from_json(item.payload), message_id, "k"))
        assert (await frames.get(1))["agent_name"] == "Ann from Northwind"


async def test_without_a_display_name_the_customer_sees_the_login_name(db):
    await agents(db, "bob")
    async with db.session() as session:
        assert await accounts.shown_names(session, ["bob", None, "gone"]) == {"bob": "bob", "gone": "gone"}
    bus = LocalBus()
    old_reply = OutgoingMessage(channel="webchat", recipient_id="s", text="hi", author="agent", agent_name="bob")
    async with bus.subscribe(customer_topic("webchat:s")) as frames:
        await WebchatChannel(bus).send(Delivery(old_reply, 1, "k"))
        assert (await frames.get(1))["agent_name"] == "bob"


def test_the_cli_adds_lists_and_changes_display_names(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    made = cli(url, "users", "add", "carla", "--role", "agent", "--password-stdin", "--display-name", " Carla R. ",
               stdin="carla's password\n")
    assert made.returncode == 0, made.stderr
    listed = cli(url, "users", "list", "--json")
    assert [(u["name"], u["display_name"]) for u in json.loads(listed.stdout)] == [("carla", "Carla R.")]
    assert re.search(r"^carla\s+agent\s+active\s+Carla R\.$", cli(url, "users", "list").stdout, re.M)
    bad = cli(url, "users", "add", "dan", "--role", "agent", "--display-name", "Dan\x07", "--password-stdin",
              stdin="dan's password\n")
    assert bad.returncode == 1 and "control characters" in bad.stderr
    assert "dan" not in cli(url, "users", "list").stdout
    changed = cli(url, "users", "set-display-name", "carla", "Carla from Support")
    assert changed.returncode == 0 and "customers see carla as Carla from Support" in changed.stdout
    cleared = cli(url, "users", "set-display-name", "carla", "--clear")
    assert cleared.returncode == 0 and "by their login name" in cleared.stdout
    assert re.search(r"^carla\s+agent\s+active\s+-$", cli(url, "users", "list").stdout, re.M)
    missing = cli(url, "users", "set-display-name", "nobody", "X")
    assert missing.returncode == 1 and "no account named 'nobody'" in missing.stderr
