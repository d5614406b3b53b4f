"""The service's figures for a period: how much the bot handled, how fast and how well people
answered what it handed over, and what customers thought. One module makes them; the
console's Reports page (bot/console/reports_api.py) and `python -m bot report` both call
`build_report`. Every figure is defined in docs/analytics.md, so a number can be checked by
hand against the history.

A period is whole days in the report's time zone (BUSINESS_TIMEZONE). Conversation figures
are about the conversations started in it, whenever their hand-overs, replies and ratings
came; message figures are about the customers' messages written in it.
"""

from __future__ import annotations

import asyncio
import math
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bot.business_hours import BusinessHours, OpenClock
from bot.business_hours import parse as parse_business_hours
from bot.settings import Settings
from bot.storage import reports as store
from bot.storage.database import Database
from bot.training.review import normalise

PRESETS = {"today": 1, "7d": 7, "30d": 30}
# The longest period one report covers: a year of days is still a quick report.
MAX_DAYS = 366
TOP = 10

# What the code records as the reason of a hand-over (bot/handoff.py, actions/handoff.py,
# bot/worker.py), in words for people.
REASONS = {
    "customer_request": "asked for a person",
    "complaint": "complaint",
    "public_complaint": "complaint in public",
    "out_of_scope": "out of scope or not understood (fallback)",
    "repeated_misunderstanding": "the bot lost the thread (fallback)",
    "negative_sentiment": "upset customer (sentiment)",
    "abuse": "abusive public post",
    "order_verification_failed": "order details not confirmed",
    "other_language": "writes in another language",
    "late_delivery": "an order later than promised",
    "actions_unavailable": "custom actions unavailable",
    "assistant_handoff": "handed over by the assistant (no reason given)",
}


class PeriodError(ValueError):
    """A period the report cannot cover; the message says why."""


@dataclass(frozen=True)
class ReportSettings:
    hours: BusinessHours
    first_response_target_seconds: float
    low_confidence: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportSettings:
        return cls(parse_business_hours(settings.business_hours, settings.business_timezone),
                   settings.first_response_target * 60, settings.review_confidence_threshold)


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive
    timezone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=ZoneInfo(self.timezone)).astimezone(timezone.utc)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(0),
                                tzinfo=ZoneInfo(self.timezone)).astimezone(timezone.utc)

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def period(since: date | str | None, until: date | str | None, zone: str, now: datetime,
           preset: str | None = None) -> Period:
    """The days of a report: a preset ending today, or since..until (both included); by
    default the last 7 days. Dates are of the time zone `zone`."""
    today = now.astimezone(ZoneInfo(zone)).date()
    if preset is not None:
        if preset not in PRESETS:
            raise PeriodError(f"unknown range {preset!r}: use {', '.join(PRESETS)} or since/until")
        return Period(today - timedelta(days=PRESETS[preset] - 1), today, zone)
    last = _date(until, "until") if until else today
    first = _date(since, "since") if since else last - timedelta(days=6)
    if first > last:
        raise PeriodError("'since' is after 'until'")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"a report covers at most {MAX_DAYS} days")
    return Period(first, last, zone)


def _date(value: date | str, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"'{name}' must be a date like 2026-12-31, not {value!r}") from None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Durations:
    """Seconds: the count measured, and its 50th and 90th percentiles."""

    count: int
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: list[float]) -> Durations:
        return cls(len(values), percentile(values, 50), percentile(values, 90))


@dataclass(frozen=True)
class Share:
    count: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.count / self.total if self.total else None


@dataclass(frozen=True)
class FirstResponse:
    business: Durations
    wall: Durations
    target_seconds: float
    within_target: Share
    # Hand-overs with no reply yet whose open time already passed the target (missed).
    waiting_past_target: int
    # Hand-overs handed back or resolved without a reply: not in the times.
    ended_without_reply: int


@dataclass(frozen=True)
class Satisfaction:
    asked: int
    answered: int
    ratings: int
    mean: float | None
    distribution: dict[int, int]

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None


@dataclass(frozen=True)
class AgentFigures:
    name: str
    handled: int
    first_responses: int
    first_response_p50: float | None
    resolutions: int
    resolution_p50: float | None
    ratings: int
    csat: float | None


@dataclass(frozen=True)
class Day:
    day: date
    conversations: int
    handed_over: int


@dataclass(frozen=True)
class Report:
    period: Period
    channel: str | None
    generated_at: datetime
    conversations: int
    handed_over: Share  # conversations with at least one hand-over, of all
    contained: Share  # conversations never handed to a person, of all
    handovers: int
    reasons: tuple[tuple[str, str, int], ...]  # (code, words, hand-overs)
    customer_messages: int
    fallback: Share  # of the messages the model read
    low_confidence: Share  # of the messages the model read
    low_confidence_threshold: float
    first_response: FirstResponse
    resolution_business: Durations
    resolution_wall: Durations
    satisfaction: Satisfaction
    agents: tuple[AgentFigures, ...]
    by_day: tuple[Day, ...]
    # [weekday 0 = Monday][hour 0-23]: conversations started, in the report's time zone.
    by_hour: tuple[tuple[int, ...], ...]
    handover_intents: tuple[tuple[str | None, int], ...]
    top_low_confidence: tuple[tuple[str, int], ...]
    channels: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return _plain(self)


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        out = {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
        for extra in ("rate", "response_rate", "start", "end"):
            if hasattr(type(value), extra) and isinstance(getattr(type(value), extra), property):
                out[extra] = _plain(getattr(value, extra))
        return out
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    return value


async def build_report(db: Database, config: ReportSettings, span: Period, channel: str | None,
                       now: datetime) -> Report:
    scope = store.Scope(span.start, span.end, channel or None)

    async def read(query, *args):
        # Each query in a session of its own: on PostgreSQL they run side by side.
        async with store.reading(db) as session:
            return await query(session, scope, *args)

    async def channel_names(session, _scope):
        return await store.channels(session)

    (buckets, handovers, counts, texts, asked, ratings, replied, names) = await asyncio.gather(
        read(store.conversations_per_bucket), read(store.handovers),
        read(store.message_counts, config.low_confidence), read(store.low_confidence_texts, config.low_confidence),
        read(store.conversations_asked_to_rate), read(store.ratings), read(store.conversations_replied_per_agent),
        read(channel_names))
    return figures(span, channel, now, config, buckets, handovers, counts, texts, asked, ratings, replied, names)


def figures(span: Period, channel: str | None, now: datetime, config: ReportSettings,
            buckets: list[tuple[int, int]], handovers: list[store.HandoverRow], counts: store.MessageCounts,
            texts: list[tuple[str, int]], asked: int, ratings: list[store.Ratings],
            replied: dict[str, int], channels: list[str]) -> Report:
    """The figures from the rows of bot/storage/reports.py. Pure: tests and the docs' worked
    example can follow it line by line."""
    zone = ZoneInfo(span.timezone)
    conversations = sum(n for _, n in buckets)
    per_day: Counter[date] = Counter()
    grid = [[0] * 24 for _ in range(7)]
    for bucket, count in buckets:
        local = datetime.fromtimestamp(bucket * store.BUCKET_SECONDS, zone)
        per_day[local.date()] += count
        grid[local.weekday()][local.hour] += count

    handed_over_started = {row.conversation_id: row.conversation_started for row in handovers}
    days = span.days
    midnights = [datetime.combine(day, time(0), tzinfo=zone).timestamp() for day in days]
    handed_per_day = Counter(days[bisect_right(midnights, started) - 1] for started in handed_over_started.values())
    handed = len(handed_over_started)

    clock = OpenClock(config.hours, span.start, max(now, span.end))
    open_between = clock.between
    now_seconds = now.timestamp()
    target = config.first_response_target_seconds
    business, wall, resolution_business, resolution_wall = [], [], [], []
    within = waiting_past = ended_unanswered = 0
    agent_first: dict[str, list[float]] = defaultdict(list)
    agent_resolution: dict[str, list[float]] = defaultdict(list)
    for (_, _, handed_over_at, _, _, first_reply_at, first_reply_by, ended_at, ended_kind, ended_by) in handovers:
        if first_reply_at is not None:
            open_seconds = open_between(handed_over_at, first_reply_at)
            business.append(open_seconds)
            wall.append(first_reply_at - handed_over_at)
            within += open_seconds <= target
            agent_first[first_reply_by or "?"].append(open_seconds)
        elif ended_at is not None:
            ended_unanswered += 1
        elif open_between(handed_over_at, now_seconds) > target:
            waiting_past += 1
        if ended_kind == "resolved":
            open_seconds = open_between(handed_over_at, ended_at)
            resolution_business.append(open_seconds)
            resolution_wall.append(ended_at - handed_over_at)
            agent_resolution[ended_by or "?"].append(open_seconds)

    reasons = Counter(row.reason or "unknown" for row in handovers)
    distribution = {score: 0 for score in range(1, 6)}
    agent_scores: dict[str, list[int]] = {}  # [sum of scores, ratings]
    for rated in ratings:
        distribution[rated.score] = distribution.get(rated.score, 0) + rated.count
        totals = agent_scores.setdefault(rated.agent or "?", [0, 0])
        totals[0] += rated.score * rated.count
        totals[1] += rated.count
    rated_count = sum(r.count for r in ratings)
    scores_sum = sum(r.score * r.count for r in ratings)
    names = sorted(set(replied) | set(agent_first) | set(agent_resolution) | set(agent_scores))
    agents = tuple(AgentFigures(
        name=name, handled=replied.get(name, 0),
        first_responses=len(agent_first[name]), first_response_p50=percentile(agent_first[name], 50),
        resolutions=len(agent_resolution[name]), resolution_p50=percentile(agent_resolution[name], 50),
        ratings=agent_scores.get(name, [0, 0])[1],
        csat=agent_scores[name][0] / agent_scores[name][1] if name in agent_scores else None,
    ) for name in names)

    return Report(
        period=span, channel=channel or None, generated_at=now, conversations=conversations,
        handed_over=Share(handed, conversations), contained=Share(conversations - handed, conversations),
        handovers=len(handovers),
        reasons=tuple((code, REASONS.get(code, code.replace("_", " ")), n)
                      for code, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        customer_messages=counts.customer,
        fallback=Share(counts.fallback, counts.read_by_model),
        low_confidence=Share(counts.low_confidence, counts.read_by_model),
        low_confidence_threshold=config.low_confidence,
        first_response=FirstResponse(
            business=Durations.of(business), wall=Durations.of(wall), target_seconds=target,
            within_target=Share(within, len(business) + waiting_past), waiting_past_target=waiting_past,
            ended_without_reply=ended_unanswered),
        resolution_business=Durations.of(resolution_business), resolution_wall=Durations.of(resolution_wall),
        satisfaction=Satisfaction(
            asked=asked, answered=sum(r.answered for r in ratings), ratings=rated_count,
            mean=scores_sum / rated_count if rated_count else None, distribution=distribution),
        agents=agents,
        by_day=tuple(Day(day, per_day[day], handed_per_day[day]) for day in days),
        by_hour=tuple(tuple(row) for row in grid),
        handover_intents=tuple(sorted(Counter(row.intent for row in handovers).items(),
                                      key=lambda kv: (-kv[1], kv[0] or ""))[:TOP]),
        top_low_confidence=_merged_texts(texts),
        channels=tuple(channels),
    )


def _merged_texts(texts: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Texts that differ only in punctuation and spacing counted as one, as on the review
    page (bot/training/review.py's `normalise`); the most frequent first."""
    merged: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for text, count in texts:
        key = normalise(text)
        merged[key] += count
        shown.setdefault(key, text)
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return tuple((shown[key], count) for key, count in ordered)


def flat_figures(report: Report) -> list[tuple[str, str, Any]]:
    """(figure, dimension, value) rows of a report, for the CLI's CSV and text output."""
    r = report
    first = r.first_response
    rows: list[tuple[str, str, Any]] = [
        ("period", "since", r.period.since.isoformat()), ("period", "until", r.period.until.isoformat()),
        ("period", "timezone", r.period.timezone), ("channel", "", r.channel or "all"),
        ("conversations", "", r.conversations),
        ("contained", "count", r.contained.count), ("contained", "rate", r.contained.rate),
        ("handed_over", "count", r.handed_over.count), ("handed_over", "rate", r.handed_over.rate),
        ("handovers", "", r.handovers),
        *(("handover_reason", code, n) for code, _, n in r.reasons),
        ("customer_messages", "", r.customer_messages), ("read_by_model", "", r.fallback.total),
        ("fallback", "count", r.fallback.count), ("fallback", "rate", r.fallback.rate),
        ("low_confidence", "count", r.low_confidence.count), ("low_confidence", "rate", r.low_confidence.rate),
        ("first_response_business_seconds", "count", first.business.count),
        ("first_response_business_seconds", "p50", first.business.p50),
        ("first_response_business_seconds", "p90", first.business.p90),
        ("first_response_wall_seconds", "p50", first.wall.p50), ("first_response_wall_seconds", "p90", first.wall.p90),
        ("first_response_within_target", "target_seconds", first.target_seconds),
        ("first_response_within_target", "count", first.within_target.count),
        ("first_response_within_target", "total", first.within_target.total),
        ("first_response_within_target", "rate", first.within_target.rate),
        ("first_response_waiting_past_target", "", first.waiting_past_target),
        ("first_response_ended_without_reply", "", first.ended_without_reply),
        ("resolution_business_seconds", "count", r.resolution_business.count),
        ("resolution_business_seconds", "p50", r.resolution_business.p50),
        ("resolution_business_seconds", "p90", r.resolution_business.p90),
        ("resolution_wall_seconds", "p50", r.resolution_wall.p50), ("resolution_wall_seconds", "p90", r.resolution_wall.p90),
        ("csat", "asked", r.satisfaction.asked), ("csat", "answered", r.satisfaction.answered),
        ("csat", "response_rate", r.satisfaction.response_rate), ("csat", "ratings", r.satisfaction.ratings),
        ("csat", "mean", r.satisfaction.mean),
        *((f"csat_score_{score}", "", n) for score, n in r.satisfaction.distribution.items()),
    ]
    for agent in r.agents:
        rows += [(f"agent:{agent.name}", "handled", agent.handled),
                 (f"agent:{agent.name}", "first_response_p50", agent.first_response_p50),
                 (f"agent:{agent.name}", "resolution_p50", agent.resolution_p50),
                 (f"agent:{agent.name}", "csat", agent.csat), (f"agent:{agent.name}", "ratings", agent.ratings)]
    rows += [("day:" + d.day.isoformat(), "conversations", d.conversations) for d in r.by_day]
    rows += [("day:" + d.day.isoformat(), "handed_over", d.handed_over) for d in r.by_day]
    rows += [(f"hour:{DAYS[day]}", f"{hour:02d}", n) for day, hours in enumerate(r.by_hour)
             for hour, n in enumerate(hours) if n]
    rows += [("handover_intent", intent or "(not read by the model)", n) for intent, n in r.handover_intents]
    rows += [("low_confidence_text", text, n) for text, n in r.top_low_confidence]
    return rows


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
