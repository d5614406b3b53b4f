"""Managing console accounts: used by `python -m bot users ...` and at first start."""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime

from bot import audit
from bot.bus import SESSIONS_TOPIC, Bus
from bot.console.auth import ROLES, generate_password, hash_password
from bot.storage import accounts
from bot.messages import utcnow
from bot.storage.database import Database
from bot.storage.models import Agent

logger = logging.getLogger(__name__)

FIRST_ADMIN = "admin"


class AccountError(ValueError):
    """A request the CLI answers with an error message (unknown name, bad role...)."""


class NoSuchAccount(AccountError):
    pass


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise AccountError("a name is 1-64 letters, digits, '.', '_' or '-'")
    return name


DISPLAY_NAME_MAX = 64
# Control and format characters (new lines, escapes, zero-width and bidirectional marks):
# a name shown to customers must read as it looks, on one line.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def check_display_name(value: object) -> str:
    """The name customers see for an agent, trimmed: 1-64 printable characters. `value`
    may come straight from a form or a JSON body."""
    if not isinstance(value, str):
        raise AccountError("the display name must be text")
    name = value.strip()
    if not name or len(name) > DISPLAY_NAME_MAX:
        raise AccountError(f"a display name is 1-{DISPLAY_NAME_MAX} characters (spaces at the ends do not count)")
    if any(unicodedata.category(ch) in UNPRINTABLE_CATEGORIES for ch in name):
        raise AccountError("a display name cannot contain control characters (new lines, tabs, invisible marks)")
    return name


def check_password(password: str) -> str:
    if len(password) < 8:
        raise AccountError("a password needs at least 8 characters")
    return password


async def sessions_ended(bus: Bus | None, name: str) -> None:
    """Tell every process that `name`'s sessions ended, so their open WebSockets close."""
    if bus is not None:
        await bus.publish(SESSIONS_TOPIC, {"type": "sessions_ended", "agent": name})


async def add_user(db: Database, name: str, role: str, password: str | None, now: datetime,
                   by: str = audit.CLI, display_name: str | None = None) -> str:
    """Create an account; returns its password (the generated one when none was given).
    A generated password is printed, so whoever sees the terminal knows it: its holder
    must choose another at first sign-in. One piped in was chosen by its holder."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    shown = check_display_name(display_name) if display_name is not None else None
    generated = password is None
    password = check_password(password) if password is not None else generate_password()
    async with db.session() as session:
        try:
            await accounts.add_agent(session, check_name(name), role, hash_password(password), now,
                                     must_change_password=generated, display_name=shown)
            await audit.record(session, by, "user_added", f"user:{name}", now, role=role,
                               **({"display_name": shown} if shown else {}))
        except accounts.AccountExists as error:
            raise AccountError(str(error)) from error
    return password


async def list_users(db: Database) -> list[Agent]:
    async with db.session() as session:
        return await accounts.list_agents(session)


async def set_password(db: Database, name: str, password: str | None, bus: Bus | None = None) -> str:
    generated = password is None
    password = check_password(password) if password is not None else generate_password()
    async with db.session() as session:
        agent = await _existing(session, name)
        agent.password_hash = hash_password(password)
        agent.must_change_password = generated
        await accounts.end_sessions_of(session, name)
        await audit.record(session, audit.CLI, "password_set", f"user:{name}", utcnow())
    await sessions_ended(bus, name)
    return password


async def set_display_name(db: Database, name: str, display_name: object, by: str = audit.CLI) -> str | None:
    """Set (or, with None, remove) the name customers see for `name` (any other value is checked
    as text from a form or a JSON body); the name now shown."""
    shown = check_display_name(display_name) if display_name is not None else None
    async with db.session() as session:
        agent = await _existing(session, name)
        if agent.display_name == shown:
            return shown
        agent.display_name = shown
        await audit.record(session, by, "display_name_set", f"user:{name}", utcnow(), display_name=shown)
    return shown


async def disable(db: Database, name: str, bus: Bus | None = None, by: str = audit.CLI) -> None:
    async with db.session() as session:
        agent = await _existing(session, name)
        agent.active = False
        await accounts.end_sessions_of(session, name)
        await audit.record(session, by, "user_disabled", f"user:{name}", utcnow())
    await sessions_ended(bus, name)


async def ensure_first_admin(db: Database, now: datetime) -> str | None:
    """On a database with no admin, create `admin` and return its one-time password."""
    async with db.session() as session:
        if await accounts.has_admin(session) or await accounts.get_agent(session, FIRST_ADMIN):
            return None
    password = await add_user(db, FIRST_ADMIN, "admin", None, now)
    logger.warning("created the console account %r with a one-time password (shown once on stdout); "
                   "the console asks for a new one at first sign-in", FIRST_ADMIN)
    return password


async def _existing(session, name: str) -> Agent:
    agent = await accounts.get_agent(session, name)
    if agent is None:
        raise NoSuchAccount(f"no account named {name!r}")
    return agent
