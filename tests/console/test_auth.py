"""Passwords (argon2) and the lockout after repeated failures, on a fixed clock."""

from datetime import datetime, timedelta, timezone

from bot.console.auth import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    WRONG_CREDENTIALS,
    Account,
    attempt_login,
    hash_password,
    verify_password,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
HASH = hash_password("correct horse battery")


def account(**changes) -> Account:
    base = dict(name="alice", role="agent", password_hash=HASH, active=True, failed_logins=0, locked_until=None)
    return Account(**{**base, **changes})


def test_passwords_are_argon2id_hashes_that_verify():
    assert HASH.startswith("$argon2id$") and "correct" not in HASH
    assert verify_password(HASH, "correct horse battery")
    assert not verify_password(HASH, "correct horse batter")
    assert not verify_password("not a hash", "anything")
    assert hash_password("same") != hash_password("same")  # salted


def test_the_right_password_logs_in_and_clears_failures():
    outcome = attempt_login(account(failed_logins=3), "correct horse battery", NOW)
    assert outcome.ok and outcome.failed_logins == 0 and outcome.locked_until is None


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer():
    wrong = attempt_login(account(), "guess", NOW)
    unknown = attempt_login(None, "guess", NOW)
    assert not wrong.ok and not unknown.ok
    assert wrong.error == unknown.error == WRONG_CREDENTIALS
    assert wrong.failed_logins == 1


def test_five_failures_lock_the_account_for_fifteen_minutes():
    state = account()
    for _ in range(MAX_FAILED_LOGINS):
        outcome = attempt_login(state, "guess", NOW)
        state = account(failed_logins=outcome.failed_logins, locked_until=outcome.locked_until)
    assert "locked" in outcome.error and state.locked_until == NOW + LOCKOUT == NOW + timedelta(minutes=15)
    # Locked: even the right password is refused until the time is up.
    refused = attempt_login(state, "correct horse battery", NOW + timedelta(minutes=14))
    assert not refused.ok and "try again in 1 minute" in refused.error
    assert attempt_login(state, "correct horse battery", NOW + timedelta(minutes=15, seconds=1)).ok


def test_a_disabled_account_cannot_log_in():
    outcome = attempt_login(account(active=False), "correct horse battery", NOW)
    assert not outcome.ok and outcome.error == WRONG_CREDENTIALS
