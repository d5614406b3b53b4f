"""Passwords (argon2) and the login throttle's rules, on a fixed clock."""

from datetime import datetime, timedelta, timezone

from bot.console.auth import Account, hash_password, password_matches, verify_password
from bot.console.throttle import ADDRESS, PAIR, address_key, address_scope, pair_key, too_many_attempts

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
HASH = hash_password("correct horse battery")


def account(**changes) -> Account:
    return Account(**{**dict(name="alice", role="agent", password_hash=HASH, active=True), **changes})


def test_passwords_are_argon2id_hashes_that_verify():
    assert HASH.startswith("$argon2id$") and "correct" not in HASH
    assert verify_password(HASH, "correct horse battery")
    assert not verify_password(HASH, "correct horse batter")
    assert not verify_password("not a hash", "anything")
    assert hash_password("same") != hash_password("same")  # salted


def test_only_the_right_password_of_an_active_account_matches():
    assert password_matches(account(), "correct horse battery")
    assert not password_matches(account(), "guess")
    assert not password_matches(None, "correct horse battery")
    assert not password_matches(account(active=False), "correct horse battery")
    assert not password_matches(account(), "x" * 100_000)  # refused unhashed


def test_a_few_free_tries_then_waits_that_double_up_to_a_cap():
    waits = [PAIR.wait(failures, NOW, NOW) for failures in range(0, 16)]
    assert waits[:PAIR.free] == [0.0] * PAIR.free
    assert waits[PAIR.free:PAIR.free + 4] == [2.0, 4.0, 8.0, 16.0]
    assert max(waits) == PAIR.cap_seconds == waits[-1]
    # The wait runs from the last failure, and old failures are forgotten.
    assert PAIR.wait(PAIR.free + 1, NOW, NOW + timedelta(seconds=3)) == 1.0
    assert PAIR.wait(50, NOW, NOW + PAIR.forget_after) == 0.0
    assert ADDRESS.free > PAIR.free  # an office behind one address has room for its typos


def test_keys_hide_names_and_group_an_ipv6_customer_network():
    assert address_scope("2001:db8:1:2:aaaa::1") == address_scope("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_scope("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") != address_key("192.0.2.8")
    assert pair_key("192.0.2.7", "admin") != pair_key("192.0.2.8", "admin") != pair_key("192.0.2.8", "ann")
    assert "admin" not in pair_key("192.0.2.7", "admin") and len(pair_key("192.0.2.7", "a" * 500)) == 64


def test_the_refusal_says_when_to_try_again():
    assert too_many_attempts(7.2) == "too many attempts, try again in 8 s"
    assert too_many_attempts(0.1) == "too many attempts, try again in 1 s"
