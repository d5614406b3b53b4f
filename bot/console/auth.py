"""Who may log in to the console, and what each role may do. Pure; no I/O.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's
recommendation). Repeated wrong passwords lock an account for a while, so a guessed
name cannot be brute-forced through the login form.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("agent", "supervisor", "trainer", "admin")
# Who works the queue, and who oversees it.
QUEUE_ROLES = frozenset({"agent", "supervisor", "admin"})
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})
# Who teaches the bot and ships its models.
TRAINER_ROLES = frozenset({"trainer", "admin"})

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
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


@dataclass(frozen=True)
class Account:
    """What a login decision needs to know about an account."""

    name: str
    role: str
    password_hash: str
    active: bool
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    error: str | None = None
    # What to store on the account afterwards.
    failed_logins: int = 0
    locked_until: datetime | None = None


def attempt_login(account: Account | None, password: str, now: datetime) -> LoginOutcome:
    if account is None:
        verify_password(DUMMY_HASH, password)
        return LoginOutcome(False, WRONG_CREDENTIALS)
    if account.locked_until is not None and account.locked_until > now:
        minutes = max(1, round((account.locked_until - now).total_seconds() / 60))
        return LoginOutcome(False, f"too many failed attempts: try again in {minutes} minute(s)",
                            account.failed_logins, account.locked_until)
    if not verify_password(account.password_hash, password) or not account.active:
        failed = account.failed_logins + 1
        if failed >= MAX_FAILED_LOGINS:
            return LoginOutcome(False, f"too many failed attempts: the account is locked for "
                                       f"{int(LOCKOUT.total_seconds() // 60)} minutes", 0, now + LOCKOUT)
        return LoginOutcome(False, WRONG_CREDENTIALS, failed, None)
    return LoginOutcome(True, None, 0, None)


def may_work_queue(role: str) -> bool:
    return role in QUEUE_ROLES


def may_supervise(role: str) -> bool:
    return role in SUPERVISOR_ROLES
