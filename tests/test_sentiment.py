"""Sentiment of customer text (bot/sentiment.py)."""

from __future__ import annotations

import time

from bot.sentiment import SentimentScorer


def test_a_very_long_message_is_scored_in_well_under_a_second():
    # VADER is quadratic in the text's length: a platform's 400,000 characters held the
    # service's event loop for hours (found by `make fuzz`). Generous bound for a busy machine.
    scorer = SentimentScorer()
    started = time.monotonic()
    score = scorer.score("This is terrible, I am so angry! " + "not good at all, " * 25_000)
    assert time.monotonic() - started < 1.0
    assert score is not None and score < 0


def test_tone_is_scored_as_before_on_ordinary_messages():
    scorer = SentimentScorer()
    assert scorer.score("Thanks, that was really helpful!") > 0.5
    assert scorer.score("This is the worst service ever, I am furious") < -0.5
    assert scorer.score("   ") is None
