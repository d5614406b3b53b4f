"""The spike rule, pure: counts per time bucket in, decisions out. No I/O, no clock.

Public posts are counted as **distinct authors** per bucket, so one angry customer writing
twenty times counts once; spam (flagged by moderation) is left out before counting. The
current window is the latest bucket; the baseline is an exponentially weighted moving
average (EWMA) of the buckets before it, oldest first, so it follows a day that builds up
gradually and a busy but calm day raises no alert. A spike is a window of at least
`min_count` authors, `multiplier` times the baseline and, for negative posts, at least
`min_share` of all the window's authors (a busy hour has its usual few unhappy customers).

An alert, once raised, lasts while the window stays over its threshold and at least
`cooldown`: `next_step` never raises the same kind twice while one is active.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


@dataclass(frozen=True)
class Rule:
    bucket_seconds: float
    baseline_buckets: int
    alpha: float
    min_count: int
    multiplier: float
    # Of all the window's authors; 0 for the volume rule, which counts all of them.
    min_share: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.min_count > 0


@dataclass(frozen=True)
class Post:
    at: datetime
    author: Hashable
    negative: bool
    spam: bool = False


@dataclass(frozen=True)
class Counts:
    """Distinct authors in the current window and in each earlier bucket (oldest first)."""

    current: int
    history: tuple[int, ...]
    # Every public author of the current window (the negative rule's share is of these).
    current_total: int
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class Assessment:
    spike: bool
    current: int
    baseline: float
    threshold: float
    share: float | None


def count(posts: Iterable[Post], now: datetime, rule: Rule, *, negative_only: bool) -> Counts:
    """Distinct authors per bucket, counted back from `now`: bucket 0 is (now - bucket, now]."""
    size = timedelta(seconds=rule.bucket_seconds)
    buckets: list[set[Hashable]] = [set() for _ in range(rule.baseline_buckets + 1)]
    everyone: set[Hashable] = set()
    for post in posts:
        if post.spam or post.at > now:
            continue
        index = int((now - post.at) / size)
        if index > rule.baseline_buckets:
            continue
        if index == 0:
            everyone.add(post.author)
        if post.negative or not negative_only:
            buckets[index].add(post.author)
    return Counts(current=len(buckets[0]), history=tuple(len(b) for b in reversed(buckets[1:])),
                  current_total=len(everyone), window_start=now - size, window_end=now)


def ewma(values: Sequence[int], alpha: float) -> float:
    """Oldest first; an empty history is a baseline of 0."""
    average = 0.0
    for index, value in enumerate(values):
        average = float(value) if index == 0 else alpha * value + (1 - alpha) * average
    return average


def assess(counts: Counts, rule: Rule) -> Assessment:
    baseline = ewma(counts.history, rule.alpha)
    threshold = max(float(rule.min_count), rule.multiplier * baseline)
    share = counts.current / counts.current_total if rule.min_share and counts.current_total else None
    spike = (rule.enabled and counts.current >= threshold
             and (not rule.min_share or (share or 0.0) >= rule.min_share))
    return Assessment(spike=spike, current=counts.current, baseline=round(baseline, 3),
                      threshold=round(threshold, 3), share=round(share, 3) if share is not None else None)


class Step(Enum):
    RAISE = "raise"
    END = "end"
    KEEP = "keep"


def next_step(spike: bool, active_since: datetime | None, now: datetime, cooldown: timedelta) -> Step:
    """One alert per spike: raised when a spike starts with none active, ended once the
    figures are back under the threshold and the cooldown has passed, kept otherwise."""
    if active_since is None:
        return Step.RAISE if spike else Step.KEEP
    if not spike and now - active_since >= cooldown:
        return Step.END
    return Step.KEEP


@dataclass(frozen=True)
class QueueLimits:
    waiting: int
    oldest_minutes: float


def queue_overloaded(waiting: int, oldest_wait_seconds: float | None, limits: QueueLimits) -> bool:
    """Over either limit; a limit of 0 is off."""
    if limits.waiting > 0 and waiting > limits.waiting:
        return True
    return (limits.oldest_minutes > 0 and oldest_wait_seconds is not None
            and oldest_wait_seconds > limits.oldest_minutes * 60)
