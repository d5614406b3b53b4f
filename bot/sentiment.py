"""Sentiment of customer text: VADER, which was made for short social-media posts."""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


class SentimentScorer:
    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, text: str) -> float | None:
        """The compound score from -1 (very negative) to 1, or None for no text."""
        if not text.strip():
            return None
        return round(self._analyzer.polarity_scores(text)["compound"], 4)
