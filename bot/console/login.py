"""Logging in and changing one's password, without letting either starve the service.

argon2 costs tens of milliseconds of CPU and 64 MiB on purpose. So: no database
connection is held while a password is checked (on SQLite the service has one connection,
and every webhook would wait behind each login); at most `concurrency` checks run at once,
on threads of their own; and each attempt is counted first (bot/console/throttle.py), so a
flood of guesses is refused before it costs a hash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot import audit
from bot.console import auth
from bot.bus import Bus
from bot.console.accounts import AccountError, check_password, sessions_ended
from bot.console.throttle import ADDRESS, PAIR, address_key, pair_key, too_many_attempts
from bot.storage import accounts, throttle
from bot.storage.database import Database

T = TypeVar("T")


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    error: str | None = None
    role: str | None = None
    must_change_password: bool = False
    retry_after: float | None = None  # seconds, when refused for trying too often


class PasswordChecks:
    """Where argon2 runs: off the event loop, at most `concurrency` at a time; the rest wait
    here, not in an executor's queue, so a login whose client gave up costs nothing."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._threads = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="password-check")

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


class Logins:
    def __init__(self, db: Database, checks: PasswordChecks, bus: Bus | None = None) -> None:
        self.db = db
        self.checks = checks
        self.bus = bus

    async def _checked(self, address: str, name: str, password: str, now: datetime
                       ) -> tuple[LoginResult | None, auth.Account | None]:
        """Count the attempt, then check the password with no connection held. A refusal,
        or (None, the account) when the password is right."""
        pair, per_address = pair_key(address, name), address_key(address)
        async with self.db.session() as session:
            attempt = await throttle.begin_attempt(session, [(pair, PAIR), (per_address, ADDRESS)], now)
            agent = await accounts.get_agent(session, name) if attempt.wait == 0 and name else None
            account = accounts.account_of(agent) if agent is not None else None
        if attempt.wait > 0:
            return LoginResult(False, too_many_attempts(attempt.wait), retry_after=attempt.wait), None
        if not await self.checks.run(auth.password_matches, account, password):
            return LoginResult(False, auth.WRONG_CREDENTIALS), account
        return None, account

    async def log_in(self, address: str, name: str, password: str, now: datetime) -> LoginResult:
        refused, account = await self._checked(address, name, password, now)
        if refused is not None:
            # A name nobody has is not written down: it may be a password typed in the wrong box.
            await audit.record_in(self.db, account.name if account else "unknown", "sign_in_failed", None, now)
            return refused
        rehashed = (await self.checks.run(auth.hash_password, password)
                    if auth.needs_rehash(account.password_hash) else None)
        async with self.db.session() as session:
            await throttle.succeeded(session, pair_key(address, name), address_key(address))
            agent = await accounts.get_agent(session, name)
            if agent is None or not agent.active or agent.password_hash != account.password_hash:
                # Disabled, or given a new password, while this one was being checked.
                return LoginResult(False, auth.WRONG_CREDENTIALS)
            agent.last_login_at = now
            await audit.record(session, name, "sign_in", None, now)
            if rehashed is not None:
                agent.password_hash = rehashed
            # Logins are rare enough to sweep expired sessions and stale counts here.
            await accounts.delete_expired_sessions(session, now)
            await throttle.forget_old(session, now)
            return LoginResult(True, role=agent.role, must_change_password=agent.must_change_password)

    async def change_password(self, address: str, name: str, current: str, new: str, now: datetime) -> LoginResult:
        """The holder of a session proves they know the password before choosing another
        (throttled like a login: a stolen session must not become a guessing machine).
        Every session of the account ends; the caller starts a fresh one."""
        try:
            check_password(new)
        except AccountError as error:
            return LoginResult(False, str(error))
        if len(new) > auth.MAX_PASSWORD_CHARS:
            return LoginResult(False, f"a password has at most {auth.MAX_PASSWORD_CHARS} characters")
        if new == current:
            return LoginResult(False, "the new password must differ from the current one")
        refused, account = await self._checked(address, name, current, now)
        if refused is not None:
            return LoginResult(False, "the current password is wrong" if refused.retry_after is None else refused.error,
                               retry_after=refused.retry_after)
        new_hash = await self.checks.run(auth.hash_password, new)
        async with self.db.session() as session:
            await throttle.succeeded(session, pair_key(address, name), address_key(address))
            agent = await accounts.get_agent(session, name)
            if agent is None or not agent.active or agent.password_hash != account.password_hash:
                return LoginResult(False, "the current password is wrong")
            agent.password_hash, agent.must_change_password = new_hash, False
            await accounts.end_sessions_of(session, name)
            await audit.record(session, name, "password_changed", f"user:{name}", now)
            role = agent.role
        await sessions_ended(self.bus, name)
        return LoginResult(True, role=role)
