"""The per-sender token bucket, on a fake clock."""

import pytest

from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_one_message_per_interval_is_booked():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.reserve("a") for _ in range(6)] == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    # Another sender is not affected by a's flood.
    assert limiter.reserve("b") == 0.0


def test_acquire_refuses_without_booking_and_the_bucket_refills():
    clock = Clock()
    limiter = RateLimiter(per_minute=30, burst=2, clock=clock)
    assert limiter.acquire("a") == 0.0 and limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(2.0)
    assert limiter.acquire("a") == pytest.approx(2.0)  # a refusal books nothing
    clock.now += 2.0
    assert limiter.acquire("a") == 0.0
    clock.now += 60
    assert [limiter.acquire("a") for _ in range(2)] == [0.0, 0.0]


def test_forgotten_keys_are_only_those_already_refilled():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock, max_keys=2)
    limiter.reserve("a")
    clock.now += 5
    limiter.reserve("b")
    limiter.reserve("c")
    assert limiter.reserve("b") == 1.0  # b's booking survived the pruning


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0, burst=1)
