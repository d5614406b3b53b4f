"""Logging in over real HTTP, on both backends: a password check holds no database
connection and only a few run at once; failures are throttled per client address and
per (address, name), never per account, and every refusal reads the same whether the
name exists or not; fetching the login form writes nothing."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

import bot.console.auth as auth
from bot.app import DB_KEY, Roles, create_app
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.console.throttle import pair_key
from bot.storage.models import ConsoleSession, InboxItem, LoginThrottle
from tests.console.support import error_of, logged_in, login_form_token, post_login

CONCURRENCY = 2


@pytest.fixture
async def app(db, database_url, tmp_path):
    settings = Settings.from_mapping({
        "DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false", "MODELS_DIR": str(tmp_path / "models"),
        "TRUSTED_PROXIES": "127.0.0.1", "CONSOLE_LOGIN_CONCURRENCY": str(CONCURRENCY),
        "REST_REPLY_TIMEOUT": "0.2"})
    await console_accounts.add_user(db, "admin", "admin", "password-of-admin", utcnow())
    return create_app(settings, Roles(web=True, worker=False))


@pytest.fixture
async def client(app):
    async with TestClient(TestServer(app)) as client:
        yield client


class HeldVerifier:
    """The real argon2 check, held at its start until released, noting what it saw then."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.connections_held: list[int] = []
        self.running = self.most = 0
        self._lock = threading.Lock()
        self._real = auth.verify_password

    def __call__(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.connections_held.append(self.pool.checkedout())
        self.entered.release()
        try:
            self.release.wait(60)
            return self._real(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.acquire, timeout=60), "no password check started"


async def test_while_a_password_is_checked_no_connection_is_held_and_webhooks_are_accepted(app, client, monkeypatch):
    verifier = HeldVerifier(app[DB_KEY].engine.pool)
    monkeypatch.setattr(auth, "verify_password", verifier)
    login = asyncio.create_task(post_login(client, "admin", "password-of-admin"))
    try:
        await verifier.wait_entered()
        # The check is under way (and held there): the database is free for everyone else.
        assert verifier.connections_held == [0]

        async def accepted() -> int:
            webhook = await client.post("/webhooks/rest/webhook", json={"sender": "c-login", "message": "hello"})
            assert webhook.status == 200
            async with app[DB_KEY].session() as session:
                return (await session.execute(select(func.count()).select_from(InboxItem))).scalar_one()

        # A generous bound: the database would otherwise be free only when the check ends.
        assert await asyncio.wait_for(accepted(), 10) == 1
    finally:
        verifier.release.set()
        response = await login
    assert response.status == 303


async def test_only_a_few_password_checks_run_at_once(app, client, monkeypatch):
    verifier = HeldVerifier(app[DB_KEY].engine.pool)
    monkeypatch.setattr(auth, "verify_password", verifier)
    # Six people at six addresses (no throttle in the way), all at once.
    logins = [asyncio.create_task(post_login(client, "admin", "wrong password", f"192.0.2.{i}")) for i in range(6)]
    try:
        for _ in range(CONCURRENCY):
            await verifier.wait_entered()
        # Give the others every chance to start a check of their own, had they a free slot.
        await asyncio.sleep(0.5)
        assert verifier.running == CONCURRENCY
    finally:
        verifier.release.set()
        responses = await asyncio.gather(*logins)
    assert [r.status for r in responses] == [401] * 6
    assert verifier.most == CONCURRENCY and len(verifier.connections_held) == 6


async def test_a_guesser_cannot_keep_the_admin_out(app, client):
    attacker, admin = "203.0.113.66", "198.51.100.7"
    answers = []
    for _ in range(8):
        response = await post_login(client, "admin", "guess", attacker)
        answers.append((response.status, error_of(await response.text())))
    assert answers[:3] == [(401, "wrong name or password")] * 3
    assert all(status == 429 and error.startswith("too many attempts, try again in ") for status, error in answers[3:])
    # A guesser who kept at it for a while (waiting out each delay): minutes between tries,
    # even with the right password.
    async with app[DB_KEY].session() as session:
        row = await session.get(LoginThrottle, pair_key(attacker, "admin"))
        row.failures = 12
    refused = await post_login(client, "admin", "password-of-admin", attacker)
    assert refused.status == 429 and 500 < int(refused.headers["Retry-After"]) <= 600
    # The real admin, from their own address, signs in at once.
    assert (await post_login(client, "admin", "password-of-admin", admin)).status == 303


async def test_refusals_read_the_same_for_names_that_exist_and_names_that_do_not(client):
    def answers_for(name: str, address: str):
        async def run():
            seen = []
            for _ in range(5):
                response = await post_login(client, name, "guess", address)
                seen.append((response.status, error_of(await response.text())))
            return seen
        return run()

    existing = await answers_for("admin", "203.0.113.1")
    unknown = await answers_for("nobody-by-this-name", "203.0.113.2")
    assert existing == unknown
    assert [status for status, _ in existing] == [401, 401, 401, 429, 429]
    assert "locked" not in str(existing)


async def test_one_address_trying_many_names_runs_out_of_tries(client):
    statuses = [(await post_login(client, f"name-{i}", "guess", "203.0.113.99")).status for i in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]
    # Another address is not affected.
    assert (await post_login(client, "admin", "password-of-admin", "203.0.113.100")).status == 303


async def test_the_login_form_writes_no_session_row(app, client):
    async def sessions() -> int:
        async with app[DB_KEY].session() as session:
            return (await session.execute(select(func.count()).select_from(ConsoleSession))).scalar_one()

    for _ in range(100):
        client.session.cookie_jar.clear()
        assert (await client.get("/console/login")).status == 200
    assert await sessions() == 0
    # A login made from such a form still works, and is the first row.
    client.session.cookie_jar.clear()
    await logged_in(client, "admin")
    assert await sessions() == 1


async def test_a_login_without_the_forms_cookie_is_refused(client):
    token = await login_form_token(client)
    client.session.cookie_jar.clear()
    response = await client.post("/console/login", data={"name": "admin", "password": "password-of-admin",
                                                         "csrf_token": token}, allow_redirects=False)
    assert response.status == 403 and "form expired" in await response.text()
    forged = await client.post("/console/login", data={"name": "admin", "password": "password-of-admin",
                                                        "csrf_token": token + "x"}, allow_redirects=False)
    assert forged.status == 403
