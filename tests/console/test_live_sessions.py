"""A console WebSocket lives no longer than its session: after a logout, a disabled
account or a changed password, an open socket (the queue's, the Models page's, the alert banner's) is closed
within a second or two and gets no further snapshot. Over real HTTP on both backends, and
across two web processes on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.bus import ALERTS_TOPIC, CONSOLE_TOPIC, TRAINING_TOPIC, LocalBus
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from tests.conftest import service_env
from tests.console.support import logged_in
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database, require

# Generous for a shared machine; the sockets check their session every second.
CLOSED_WITHIN = 3.0
ENDED = 1008  # policy violation: the session ended


@pytest.fixture
def bus():
    return LocalBus()


@pytest.fixture
async def client(db, database_url, tmp_path, bus):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models")})
    for name, role in (("ann", "agent"), ("tess", "trainer"), ("sue", "supervisor")):
        await console_accounts.add_user(db, name, role, f"password-of-{name}", utcnow())
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False), bus=bus))) as client:
        yield client


async def opened(ws) -> dict:
    """The snapshot a socket sends when it opens."""
    frame = await ws.receive(timeout=30)
    assert frame.type == WSMsgType.TEXT, frame
    return frame.json()


async def closed_after(ws, nudge) -> list:
    """Wait for the socket to close, nudging its topic meanwhile (a snapshot would follow a
    nudge were the socket still fed); the frames it got before closing."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLOSED_WITHIN
    while True:
        await nudge()
        try:
            frame = await ws.receive(timeout=min(0.3, max(0.01, deadline - loop.time())))
        except asyncio.TimeoutError:
            assert loop.time() < deadline, f"still open after {CLOSED_WITHIN}s; got {frames}"
            continue
        if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            assert frame.type == WSMsgType.CLOSE and frame.data == ENDED, frame
            return frames
        frames.append(frame)


def console_nudge(bus):
    return lambda: bus.publish(CONSOLE_TOPIC, {"type": "message", "conversation_id": 1})


async def test_logging_out_closes_the_queue_socket(client, bus):
    headers = await logged_in(client, "ann")
    ws = await client.ws_connect("/console/ws")
    assert (await opened(ws))["type"] == "queue"
    assert (await client.post("/console/logout", headers=headers, allow_redirects=False)).status == 303
    assert await closed_after(ws, console_nudge(bus)) == []


async def test_disabling_an_account_closes_its_sockets_with_or_without_the_notice(client, db, bus):
    await logged_in(client, "ann")
    announced = await client.ws_connect("/console/ws")
    await opened(announced)
    silent = await client.ws_connect("/console/ws")
    await opened(silent)
    # As the CLI does without a bus (the embedded set-up): the sockets find out by themselves.
    await console_accounts.disable(db, "ann")
    assert await closed_after(silent, console_nudge(bus)) == []
    assert await closed_after(announced, console_nudge(bus)) == []


async def test_disabling_with_the_notice_closes_at_once(client, db, bus):
    await logged_in(client, "ann")
    ws = await client.ws_connect("/console/ws")
    await opened(ws)
    await console_accounts.disable(db, "ann", bus)
    frame = await ws.receive(timeout=CLOSED_WITHIN)
    assert frame.type == WSMsgType.CLOSE and frame.data == ENDED


async def test_changing_the_password_closes_the_models_page_socket(client, bus):
    headers = await logged_in(client, "tess")
    ws = await client.ws_connect("/console/training/ws")
    assert (await opened(ws))["type"] == "models"
    changed = await client.post("/console/password", json={"current": "password-of-tess", "new": "a new passphrase"},
                                headers=headers)
    assert changed.status == 200, await changed.text()
    assert await closed_after(ws, lambda: bus.publish(TRAINING_TOPIC, {"type": "progress"})) == []
    # The page that changed it goes on in a fresh session, with the new password.
    fresh = await client.ws_connect("/console/training/ws")
    assert (await opened(fresh))["type"] == "models"
    await fresh.close()


async def test_logging_out_closes_the_alert_banner_socket(client, bus):
    headers = await logged_in(client, "sue")
    ws = await client.ws_connect("/console/alerts/ws")
    assert (await opened(ws)) == {"type": "alerts", "active": []}
    assert (await client.post("/console/logout", headers=headers, allow_redirects=False)).status == 303
    assert await closed_after(ws, lambda: bus.publish(ALERTS_TOPIC, {"type": "raised"})) == []


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(300)
async def test_a_logout_on_one_web_process_closes_the_socket_on_another(model):
    require("PostgreSQL", "127.0.0.1", 5432)
    require("Redis", "127.0.0.1", 6379)
    with fresh_postgres_database() as url:
        upgrade(Settings.from_mapping({"DATABASE_URL": url}).sync_database_url)
        db = Database(url)
        await console_accounts.add_user(db, "ann", "agent", "password-of-ann", utcnow())
        await db.close()
        env = service_env(url, model, REDIS_URL="redis://127.0.0.1:6379/7")
        first, second = ServiceProcess(env, command="web"), ServiceProcess(env, command="web")
        try:
            await asyncio.gather(asyncio.to_thread(first.start), asyncio.to_thread(second.start))
            jar = aiohttp.CookieJar(unsafe=True)  # cookies ignore the port: one browser, two processes
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                form = await (await http.get(f"{first.url}/console/login")).text()
                token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
                login = await http.post(f"{first.url}/console/login", allow_redirects=False,
                                        data={"name": "ann", "password": "password-of-ann", "csrf_token": token})
                assert login.status == 303
                page = await (await http.get(f"{first.url}/console/")).text()
                csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
                ws = await http.ws_connect(f"{second.url}/console/ws")
                assert (await opened(ws))["type"] == "queue"
                logout = await http.post(f"{first.url}/console/logout", headers={"X-CSRF-Token": csrf},
                                         allow_redirects=False)
                assert logout.status == 303
                frame = await ws.receive(timeout=CLOSED_WITHIN)
                assert frame.type == WSMsgType.CLOSE and frame.data == ENDED
        finally:
            first.stop()
            second.stop()
