"""The brand's business hours, and what a customer handed to a person is told. Pure.

BUSINESS_HOURS is "Mon-Fri 09:00-18:00; Sat 10:00-14:00" (or "always") in
BUSINESS_TIMEZONE; the clock is passed in, so tests choose the moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.phrases import Phrasebook, shipped

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_GROUP = re.compile(r"^\s*(?P<days>[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?)*)"
                    r"\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


class BusinessHoursError(ValueError):
    pass


@dataclass(frozen=True)
class BusinessHours:
    text: str
    timezone: str
    # weekday (0 = Monday) -> opening spans; None: always open.
    spans: dict[int, tuple[tuple[time, time], ...]] | None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, now: datetime) -> bool:
        if self.spans is None:
            return True
        local = now.astimezone(self.zone)
        return any(start <= local.time() < end for start, end in self.spans.get(local.weekday(), ()))

    def next_opening(self, now: datetime) -> datetime | None:
        """The next moment the team is in, at or after `now` (in the business time zone)."""
        if self.spans is None or self.is_open(now):
            return now
        local = now.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for start, _ in sorted(self.spans.get(day.weekday(), ())):
                opening = datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None


def parse(text: str, timezone: str = "UTC") -> BusinessHours:
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError) as error:
        raise BusinessHoursError(f"unknown time zone {timezone!r}") from error
    if text.strip().lower() in {"", "always", "24/7"}:
        return BusinessHours(text, timezone, None)
    spans: dict[int, list[tuple[time, time]]] = {}
    for group in text.split(";"):
        match = _GROUP.match(group)
        if not match:
            raise BusinessHoursError(f"cannot read business hours {group.strip()!r}: write e.g. 'Mon-Fri 09:00-18:00'")
        start, end = _time(match["start"]), _time(match["end"])
        if end <= start:
            raise BusinessHoursError(f"{group.strip()!r}: the end must be after the start")
        for day in _days(match["days"]):
            spans.setdefault(day, []).append((start, end))
    return BusinessHours(text, timezone, {day: tuple(sorted(s)) for day, s in spans.items()})


def _time(value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise BusinessHoursError(f"{value!r} is not a time of day")
    return time(hours, minutes)


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = (p.strip().title() for p in part.partition("-"))
        if first not in DAYS or (last and last not in DAYS):
            raise BusinessHoursError(f"unknown day in {spec!r}: use {', '.join(DAYS)}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.extend(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    return days


def describe_wait(seconds: float, phrases: Phrasebook | None = None, language: str | None = None) -> str:
    phrases = phrases or shipped()
    minutes = round(seconds / 60)
    if minutes < 1:
        return phrases.say("under_a_minute", language)
    if minutes == 1:
        return phrases.say("one_minute", language)
    if minutes < 90:
        return phrases.say("minutes", language, n=minutes)
    return phrases.say("hours", language, n=round(minutes / 60))


def handoff_notice(hours: BusinessHours, now: datetime, expected_wait: float | None,
                   phrases: Phrasebook | None = None, language: str | None = None) -> str:
    """What the customer is told when handed to a person: when they can expect an answer,
    in their language where the brand wrote the phrases (bot/phrases.py)."""
    phrases = phrases or shipped()
    if hours.is_open(now):
        wait = (phrases.say("wait", language, wait=describe_wait(expected_wait, phrases, language))
                if expected_wait is not None else phrases.say("wait_unknown", language))
        if hours.spans is None:
            return wait
        return f"{wait} {phrases.say('team_hours', language, hours=hours.text, timezone=hours.timezone)}"
    opening = hours.next_opening(now)
    when = (phrases.say("back_at", language, day=phrases.get("weekdays", language)[opening.weekday()],
                        time=f"{opening:%H:%M}")
            if opening else phrases.say("back_soon", language))
    return phrases.say("team_away", language, hours=hours.text, timezone=hours.timezone, when=when)


class OpenClock:
    """Seconds the team was open between two moments, for the reports' response times.

    Built once for a stretch of days: each local day's opening spans are turned into UTC
    instants (seconds since 1970) with a running total, so a duration is two binary
    searches however long it is, and a daylight-saving change (a 23- or 25-hour day) is
    counted as the wall clock moved. Moments outside the stretch are clamped to it.
    """

    def __init__(self, hours: BusinessHours, first: datetime, last: datetime) -> None:
        from bisect import bisect_right

        self._bisect = bisect_right
        self.always = hours.spans is None
        zone = hours.zone
        day = first.astimezone(zone).date() - timedelta(days=1)
        end_day = last.astimezone(zone).date() + timedelta(days=1)
        starts: list[float] = []
        lengths: list[float] = []
        totals: list[float] = []  # open seconds before each span starts
        total = 0.0
        while not self.always and day <= end_day:
            for start, end in (hours.spans or {}).get(day.weekday(), ()):
                opened = datetime.combine(day, start, tzinfo=zone).timestamp()
                closed = datetime.combine(day, end, tzinfo=zone).timestamp()
                starts.append(opened)
                lengths.append(closed - opened)
                totals.append(total)
                total += closed - opened
            day += timedelta(days=1)
        self._starts, self._lengths, self._totals = starts, lengths, totals

    def _before(self, moment: float) -> float:
        """Open seconds from the start of the stretch up to `moment` (seconds since 1970)."""
        index = self._bisect(self._starts, moment) - 1
        if index < 0:
            return 0.0
        return self._totals[index] + min(moment - self._starts[index], self._lengths[index])

    def between(self, start: float, end: float) -> float:
        """Open seconds between two moments given as seconds since 1970."""
        if end <= start:
            return 0.0
        if self.always:
            return end - start
        return self._before(end) - self._before(start)

    def open_seconds(self, start: datetime, end: datetime) -> float:
        return self.between(start.timestamp(), end.timestamp())
