"""Who may log in to the console, and what each role may do. Pure; no I/O.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's
recommendation). How often a login may be tried is bot/console/throttle.py's business;
bot/console/login.py puts the two together.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("agent", "supervisor", "trainer", "admin")
# Who works the queue, and who oversees it.
QUEUE_ROLES = frozenset({"agent", "supervisor", "admin"})
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})
# Who teaches the bot and ships its models.
TRAINER_ROLES = frozenset({"trainer", "admin"})

WRONG_CREDENTIALS = "wrong name or password"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password people can type: 20 URL-safe characters, about 120 bits."""
    return secrets.token_urlsafe(15)


# Verified when the name is unknown, so a wrong name takes as long as a wrong password
# and response times do not tell which names exist.
DUMMY_HASH = hash_password(generate_password())


# Longer passwords are refused unchecked: argon2 hashes whatever it is given.
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True)
class Account:
    """What a login decision needs to know about an account."""

    name: str
    role: str
    password_hash: str
    active: bool
    must_change_password: bool = False


def password_matches(account: Account | None, password: str) -> bool:
    """Slow on purpose (argon2): called off the event loop, a few at a time."""
    if account is None or len(password) > MAX_PASSWORD_CHARS:
        # The same work for a name that does not exist, so timing does not tell.
        verify_password(DUMMY_HASH, password[:MAX_PASSWORD_CHARS])
        return False
    return verify_password(account.password_hash, password) and account.active


def may_work_queue(role: str) -> bool:
    return role in QUEUE_ROLES


def may_supervise(role: str) -> bool:
    return role in SUPERVISOR_ROLES
