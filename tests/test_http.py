"""Retry-After, as platforms send it: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""

from datetime import datetime, timezone

import pytest

from bot.http import retry_after

NOW = datetime(2026, 10, 21, 7, 28, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("value, seconds", [
    ("120", 120.0),
    ("0", 0.0),
    (" 7 ", 7.0),
    ("1.5", 1.5),
    # An HTTP-date is counted from now, in the preferred form and the two obsolete ones.
    ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
    ("Wednesday, 21-Oct-26 07:29:00 GMT", 60.0),
    ("Wed Oct 21 07:30:00 2026", 120.0),
    ("Wed, 21 Oct 2026 09:28:00 +0200", 0.0),
    # A date already past, or a negative delay, means "now".
    ("Wed, 21 Oct 2026 07:00:00 GMT", 0.0),
    ("-5", 0.0),
])
def test_both_forms_give_the_seconds_to_wait(value, seconds):
    assert retry_after(value, NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "Wed, 99 Foo 2026 GMT", "inf", "nan", "1e999"])
def test_an_absent_or_unreadable_value_leaves_the_backoff_to_the_caller(value):
    assert retry_after(value, NOW) is None
