"""When a conversation goes to a human, and how urgent it is. Pure functions, no I/O.

States: bot -> queued -> assigned -> (bot | closed), and closed -> assigned when an agent
reopens a resolved conversation. The priority rule lives here and
nowhere else (docs/architecture.md describes it): public before private, negative
before neutral, complaints before questions; among equals the longest wait goes first.
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSITIONS: dict[str, frozenset[str]] = {
    "bot": frozenset({"queued", "closed"}),
    "queued": frozenset({"assigned", "bot", "closed"}),
    "assigned": frozenset({"assigned", "queued", "bot", "closed"}),
    # assigned: an agent reopens a resolution that was premature (the customer still needs
    # them) and takes it back at once, so nobody else has to claim it and they can write.
    "closed": frozenset({"bot", "assigned"}),
}

HUMAN_STATES = frozenset({"queued", "assigned"})


class TransitionError(ValueError):
    pass


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise TransitionError(f"a conversation cannot go from {current} to {target}")


@dataclass(frozen=True)
class Handoff:
    reason: str
    priority: int


# What the hand-over is for: an unhappy customer, a broken promise or an explicit request
# for a person comes before a question the bot could not place (small talk, a fallback).
REASON_WEIGHTS = {
    "complaint": 30, "public_complaint": 30, "negative_sentiment": 30,
    "late_delivery": 30, "customer_request": 25,
    # The bot cannot help them at all, but they did not ask for a person or complain.
    "other_language": 20, "order_verification_failed": 10,
}


def priority(*, reason: str, is_public: bool, sentiment: float | None, negative_threshold: float,
             earlier_contacts: int = 0) -> int:
    score = 0
    if is_public:
        score += 100
    if sentiment is not None:
        if sentiment <= negative_threshold:
            score += 50
        elif sentiment < -0.05:
            score += 20
    score += REASON_WEIGHTS.get(reason, 0)
    score += min(earlier_contacts, 5) * 5
    return score


def aged_priority(base: int, waited_seconds: float) -> int:
    """The priority a waiting conversation has now: +1 per minute waited, up to +60, so a
    plain question left waiting for an hour ranks with a fresh negative one."""
    return base + min(int(max(waited_seconds, 0) // 60), 60)


def decide(*, requested_reason: str | None, is_public: bool, sentiment: float | None,
           negative_threshold: float, intent: str | None, earlier_contacts: int = 0) -> Handoff | None:
    """Whether this customer message hands the conversation to a person, and why.

    The model decides first (its handoff action); strongly negative sentiment hands over
    even when the model would answer, because an angry customer wants a person; and on a
    public post a complaint is never left to the bot.
    """
    reason = requested_reason
    strongly_negative = sentiment is not None and sentiment <= negative_threshold
    if reason is None and strongly_negative:
        reason = "public_complaint" if is_public else "negative_sentiment"
    if reason is None and is_public and intent == "complaint":
        reason = "public_complaint"
    if reason is None:
        return None
    return Handoff(reason, priority(reason=reason, is_public=is_public, sentiment=sentiment,
                                    negative_threshold=negative_threshold, earlier_contacts=earlier_contacts))
