"""Business hours and the hand-over notice, on a fixed clock."""

from datetime import datetime, timezone

import pytest

from bot.business_hours import BusinessHoursError, describe_wait, handoff_notice, parse

HOURS = parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00", "Europe/Berlin")
# 2026-11-25 is a Wednesday; Berlin is UTC+1 in November.
WEDNESDAY_NOON = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)
FRIDAY_EVENING = datetime(2026, 11, 27, 18, 30, tzinfo=timezone.utc)
SATURDAY_EVENING = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


def test_open_hours_in_the_business_time_zone():
    assert HOURS.is_open(WEDNESDAY_NOON)
    assert not HOURS.is_open(datetime(2026, 11, 25, 17, 30, tzinfo=timezone.utc))  # 18:30 in Berlin
    assert HOURS.is_open(datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc))  # Sat 10:30
    assert not HOURS.is_open(datetime(2026, 11, 29, 11, 0, tzinfo=timezone.utc))  # Sunday


def test_the_next_opening_skips_closed_days():
    assert HOURS.next_opening(FRIDAY_EVENING).strftime("%a %H:%M") == "Sat 10:00"
    assert HOURS.next_opening(SATURDAY_EVENING).strftime("%a %H:%M") == "Mon 09:00"


def test_the_notice_tells_the_expected_wait_when_open():
    notice = handoff_notice(HOURS, WEDNESDAY_NOON, 240)
    assert notice.startswith("The usual wait right now is about 4 minutes.")
    assert "Mon-Fri 09:00-18:00" in notice and "Europe/Berlin" in notice
    assert handoff_notice(HOURS, WEDNESDAY_NOON, None).startswith("Someone will be with you shortly.")


def test_the_notice_tells_when_the_team_answers_when_closed():
    notice = handoff_notice(HOURS, SATURDAY_EVENING, 240)
    assert "away right now" in notice and "from Mon 09:00" in notice and "wait" not in notice


def test_always_open():
    always = parse("always")
    assert always.is_open(SATURDAY_EVENING)
    assert handoff_notice(always, SATURDAY_EVENING, 30) == "The usual wait right now is less than a minute."


@pytest.mark.parametrize("text", ["Mon-Fri", "Mon-Fri 18:00-09:00", "Xyz 09:00-10:00", "Mon 25:00-26:00"])
def test_unreadable_hours_are_refused(text):
    with pytest.raises(BusinessHoursError):
        parse(text)


def test_waits_read_naturally():
    assert describe_wait(61) == "about 1 minute"
    assert describe_wait(3 * 3600) == "about 3 hours"


def test_open_seconds_across_a_weekend_and_a_clock_change():
    """Friday 17:50 GMT to Monday 09:10 BST (the clocks went forward on Sunday 29 March
    2026): 10 minutes on Friday, Saturday 10:00-16:00, 10 minutes on Monday."""
    from bot.business_hours import OpenClock

    hours = parse("Mon-Fri 09:00-18:00; Sat 10:00-16:00", "Europe/London")
    clock = OpenClock(hours, datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 4, 30, tzinfo=timezone.utc))
    friday = datetime(2026, 3, 27, 17, 50, tzinfo=timezone.utc)
    monday = datetime(2026, 3, 30, 8, 10, tzinfo=timezone.utc)  # 09:10 in London
    assert clock.open_seconds(friday, monday) == 10 * 60 + 6 * 3600 + 10 * 60
    assert clock.open_seconds(monday, friday) == 0
    sunday = datetime(2026, 3, 29, 0, 0, tzinfo=timezone.utc)
    assert clock.open_seconds(sunday, sunday.replace(hour=23)) == 0
    always = OpenClock(parse("always"), friday, monday)
    assert always.open_seconds(friday, monday) == (monday - friday).total_seconds()
