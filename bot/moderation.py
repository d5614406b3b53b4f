"""Abuse and spam on public posts: flagged for moderation and never answered by the bot;
abuse goes to a person (bot/worker.py), spam only to the history (and hidden, if set).

A deliberately small, explainable rule set (a word list and spam signs); brands with a
moderation service put it here behind the same function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABUSIVE_WORDS = frozenset({
    "idiot", "idiots", "moron", "morons", "stupid", "dumb", "scum", "trash", "loser", "losers",
    "fuck", "fucking", "fucker", "shit", "bitch", "bastard", "asshole", "cunt", "dick", "wanker",
    "retard", "retarded", "kill yourself", "kys",
})
LINK = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:ru|xyz|top|click|biz|info)\b", re.IGNORECASE)
SPAM_PHRASES = ("free followers", "click here", "dm me for", "earn $", "make money", "crypto giveaway",
                "check my profile", "promo in bio", "whatsapp me")


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    reason: str | None = None


def assess(text: str) -> Verdict:
    lowered = text.lower()
    words = set(re.findall(r"[a-z']+", lowered))
    if words & ABUSIVE_WORDS or any(" " in w and w in lowered for w in ABUSIVE_WORDS):
        return Verdict(True, "abuse")
    if any(phrase in lowered for phrase in SPAM_PHRASES) or len(LINK.findall(text)) >= 2:
        return Verdict(True, "spam")
    return Verdict(False)
