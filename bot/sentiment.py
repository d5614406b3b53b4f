"""Sentiment of customer text: VADER, which was made for short social-media posts."""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's time grows with the square of the text's length (each word looks back over all
# of them): 4,000 characters took most of a second and a platform's 400,000 held the
# service's event loop for hours. A customer's tone shows in their first lines.
SCORED_CHARS = 1000


class SentimentScorer:
    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, text: str) -> float | None:
        """The compound score from -1 (very negative) to 1, or None for no text."""
        if not text.strip():
            return None
        return round(self._analyzer.polarity_scores(text[:SCORED_CHARS])["compound"], 4)
