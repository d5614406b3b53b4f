"""Per-sender rate limiting at acceptance: a flood from one sender must not slow the others.

A token bucket per key (the conversation), computed as GCRA: `burst` messages at once,
then one every 60/`per_minute` seconds. Two ways to use it, because the callers differ:

- `reserve` never refuses: it books the next free slot and says how long until it. Platform
  webhooks must be answered 200 (they retry, then disable a webhook that refuses), so the
  excess is stored at once and scheduled for that slot: nothing is lost, and the sender's
  extra messages wait their turn instead of taking the workers from everyone else.
- `acquire` refuses without booking (the caller answers 429 with Retry-After): for REST and
  web chat, whose clients are told and resend.

The state lives in this process: with several web processes each keeps its own buckets,
so a sender gets at most that many times the rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.interval = 60.0 / per_minute
        self.tolerance = (burst - 1) * self.interval
        self.clock = clock
        self.max_keys = max_keys
        # Per key: the theoretical arrival time of its next message (GCRA's TAT).
        self._next: dict[str, float] = {}

    def _slot(self, key: str, now: float) -> tuple[float, float]:
        """(when the next message of `key` conforms, the TAT after booking it)."""
        tat = max(self._next.get(key, now), now)
        at = max(now, tat - self.tolerance)
        return at, max(tat, at) + self.interval

    def reserve(self, key: str) -> float:
        """Book the next slot for `key`; seconds until it (0.0: now)."""
        now = self.clock()
        at, tat = self._slot(key, now)
        self._book(key, tat, now)
        return at - now

    def acquire(self, key: str) -> float:
        """Take a slot now if there is one (0.0); else the seconds to wait, nothing booked."""
        now = self.clock()
        at, tat = self._slot(key, now)
        if at > now:
            return at - now
        self._book(key, tat, now)
        return 0.0

    def _book(self, key: str, tat: float, now: float) -> None:
        self._next[key] = tat
        if len(self._next) > self.max_keys:
            # A key whose TAT has passed is as good as new: forget those.
            self._next = {k: v for k, v in self._next.items() if v > now}
