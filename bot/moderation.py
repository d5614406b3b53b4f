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
# A bare domain is matched only from the start of a run of name characters (the look-behind),
# so each run is read once. With `\b` in its place, every letter after a "-" began a new
# attempt that read to the end of the run: "a-" * 50,000 took over a minute.
LINK = re.compile(r"https?://|www\.|(?<![a-z0-9-])[a-z0-9-]+\.(?:ru|xyz|top|click|biz|info)\b", re.IGNORECASE)
# The longest public post a platform delivers (an X post; Facebook comments stop at 8,000,
# Instagram's at 2,200): the rules read no further, so a forged or freak one costs no more.
MAX_CHARS = 25_000
SPAM_PHRASES = ("free followers", "click here", "dm me for", "earn $", "make money", "crypto giveaway",
                "check my profile", "promo in bio", "whatsapp me")


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    reason: str | None = None


def assess(text: str) -> Verdict:
    text = text[:MAX_CHARS]
    lowered = text.lower()
    words = set(re.findall(r"[a-z']+", lowered))
    if words & ABUSIVE_WORDS or any(" " in w and w in lowered for w in ABUSIVE_WORDS):
        return Verdict(True, "abuse")
    if any(phrase in lowered for phrase in SPAM_PHRASES) or len(LINK.findall(text)) >= 2:
        return Verdict(True, "spam")
    return Verdict(False)
