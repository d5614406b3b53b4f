"""The spike rule, on its own: distinct authors per bucket, the EWMA baseline, the share of
negative authors, one alert per spike, and the queue's limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bot.reputation.detector import (
    Counts,
    Post,
    QueueLimits,
    Rule,
    Step,
    assess,
    count,
    ewma,
    next_step,
    queue_overloaded,
)

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)
NEGATIVE = Rule(bucket_seconds=300, baseline_buckets=12, alpha=0.3, min_count=5, multiplier=3.0, min_share=0.3)
VOLUME = Rule(bucket_seconds=300, baseline_buckets=12, alpha=0.3, min_count=30, multiplier=4.0)


def posts_in(bucket: int, authors: range | list, negative: bool = True, spam: bool = False) -> list[Post]:
    """One post per author, in bucket `bucket` back from NOW (0 is the current window)."""
    at = NOW - timedelta(seconds=300 * bucket + 10)
    return [Post(at=at, author=a, negative=negative, spam=spam) for a in authors]


def negative_alert(posts: list[Post]) -> bool:
    return assess(count(posts, NOW, NEGATIVE, negative_only=True), NEGATIVE).spike


def test_a_storm_of_distinct_angry_authors_is_a_spike():
    assert negative_alert(posts_in(0, range(8)))


def test_one_customer_writing_twenty_times_counts_once():
    posts = [Post(at=NOW - timedelta(seconds=i), author="angry", negative=True) for i in range(20)]
    counts = count(posts, NOW, NEGATIVE, negative_only=True)
    assert counts.current == 1 and not assess(counts, NEGATIVE).spike


def test_spam_is_not_counted_however_much_there_is():
    posts = posts_in(0, range(200), spam=True)
    assert count(posts, NOW, NEGATIVE, negative_only=False).current == 0
    assert not negative_alert(posts)
    assert not assess(count(posts, NOW, VOLUME, negative_only=False), VOLUME).spike


def test_a_busy_calm_hour_with_its_usual_few_unhappy_customers_is_no_spike():
    # 60 posters in the window, 8 of them unhappy: over the minimum, but 13% of the posters.
    posts = posts_in(0, range(52), negative=False) + posts_in(0, range(100, 108))
    assert not negative_alert(posts)


def test_a_steady_busy_day_is_its_own_baseline():
    # 80 posters every 5 minutes all morning: the volume rule's baseline is 80.
    posts = [p for bucket in range(13) for p in posts_in(bucket, range(bucket * 1000, bucket * 1000 + 80),
                                                          negative=False)]
    assessment = assess(count(posts, NOW, VOLUME, negative_only=False), VOLUME)
    assert assessment.baseline == 80 and not assessment.spike


def test_a_day_that_builds_up_gradually_raises_no_volume_alert():
    posts = [p for bucket in range(13)
             for p in posts_in(bucket, range(bucket * 1000, bucket * 1000 + 40 + 10 * (12 - bucket)), negative=False)]
    assert not assess(count(posts, NOW, VOLUME, negative_only=False), VOLUME).spike


def test_a_sudden_jump_in_volume_is_a_spike():
    quiet = [p for bucket in range(1, 13) for p in posts_in(bucket, range(bucket * 1000, bucket * 1000 + 10),
                                                             negative=False)]
    assert assess(count(quiet + posts_in(0, range(50), negative=False), NOW, VOLUME, negative_only=False),
                  VOLUME).spike


def test_the_threshold_follows_the_negative_baseline():
    usual = [p for bucket in range(1, 13) for p in posts_in(bucket, range(bucket * 1000, bucket * 1000 + 4))]
    assert not negative_alert(usual + posts_in(0, range(8)))   # 8 < 3 x 4
    assert negative_alert(usual + posts_in(0, range(13)))      # 13 >= 12


def test_posts_outside_the_window_and_its_baseline_are_ignored():
    counts = count(posts_in(13, range(50)) + posts_in(0, range(2)), NOW, NEGATIVE, negative_only=True)
    assert counts.current == 2 and sum(counts.history) == 0 and len(counts.history) == 12


def test_the_ewma_weights_the_latest_bucket_by_alpha():
    assert ewma([], 0.3) == 0
    assert ewma([10], 0.3) == 10
    assert abs(ewma([10, 0], 0.3) - 7.0) < 1e-9


def test_a_rule_with_no_minimum_is_off():
    off = Rule(bucket_seconds=300, baseline_buckets=12, alpha=0.3, min_count=0, multiplier=4.0)
    assert not assess(count(posts_in(0, range(500)), NOW, off, negative_only=False), off).spike


def test_one_alert_per_spike_and_not_before_the_cooldown():
    cooldown = timedelta(minutes=30)
    assert next_step(True, None, NOW, cooldown) is Step.RAISE
    assert next_step(False, None, NOW, cooldown) is Step.KEEP
    assert next_step(True, NOW - timedelta(hours=5), NOW, cooldown) is Step.KEEP  # still going: no repeat
    assert next_step(False, NOW - timedelta(minutes=10), NOW, cooldown) is Step.KEEP  # calm, but too soon
    assert next_step(False, NOW - timedelta(minutes=31), NOW, cooldown) is Step.END


def test_the_queue_is_overloaded_over_either_limit_and_a_zero_limit_is_off():
    limits = QueueLimits(waiting=50, oldest_minutes=30)
    assert not queue_overloaded(50, 29 * 60, limits)
    assert queue_overloaded(51, 0, limits)
    assert queue_overloaded(1, 31 * 60, limits)
    assert not queue_overloaded(0, None, limits)
    assert not queue_overloaded(10_000, 10 ** 6, QueueLimits(waiting=0, oldest_minutes=0))


@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 40), st.booleans(), st.booleans()), max_size=200))
def test_counts_never_exceed_the_distinct_authors_and_spam_never_adds(raw):
    posts = [Post(at=NOW - timedelta(seconds=s), author=a, negative=n, spam=spam) for s, a, n, spam in raw]
    counts = count(posts, NOW, NEGATIVE, negative_only=True)
    honest = [p for p in posts if not p.spam]
    assert counts.current <= counts.current_total <= len({p.author for p in honest})
    assert count(honest, NOW, NEGATIVE, negative_only=True) == counts


@given(st.integers(0, 200), st.lists(st.integers(0, 200), max_size=12))
def test_a_spike_is_always_at_least_the_minimum_and_the_multiple(current, history):
    counts = Counts(current=current, history=tuple(history), current_total=current, window_start=NOW,
                    window_end=NOW)
    assessment = assess(counts, NEGATIVE)
    if assessment.spike:
        assert current >= NEGATIVE.min_count and current >= NEGATIVE.multiplier * ewma(history, NEGATIVE.alpha) - 1e-6


def test_customer_text_cannot_ping_the_channel_or_disguise_a_link_in_slack():
    from bot.reputation.watch import webhook_text
    from bot.storage.models import Alert

    alert = Alert(summary="6 customers posted negative public comments.", posts=[
        {"channel": "facebook", "author": "<!here> Eve", "conversation_id": 7,
         "text": "<!channel> terrible <https://evil.example|your order> & worse"}])
    text = webhook_text(alert, "https://help.example.com")
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil.example" not in text
    assert "&lt;!channel&gt; terrible &lt;https://evil.example|your order&gt; &amp; worse" in text
    assert "<https://help.example.com/console/conversations/7|open>" in text
