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
    "other_language": 20,
    # A Rasa assistant handed over in its own way (ConversationPaused, a hand-over action)
    # without saying why: it judged a person necessary, which is more than a fallback.
    "assistant_handoff": 10, "order_verification_failed": 10,
}


@dataclass(frozen=True)
class RasaHandoffNames:
    """The intents and actions with which an existing Rasa assistant hands over, by name,
    without this project's custom payload (HANDOFF_INTENTS, HANDOFF_ACTIONS)."""

    intents: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, intents: str, actions: str) -> RasaHandoffNames:
        def names(setting: str) -> frozenset[str]:
            return frozenset(name.strip() for name in setting.split(",") if name.strip())

        return cls(names(intents), names(actions))


def requested_by_model(*, payload_reason: str | None, paused: bool, intent: str | None, actions: list[str],
                       names: RasaHandoffNames) -> str | None:
    """Whether the model's turn hands over, in any of the three ways an assistant may, and why.

    The custom payload names its reason, so it wins. A customer whose intent is a hand-over
    intent asked for a person, whatever the action did about it. Otherwise an action that
    paused the conversation (Rasa's ConversationPaused) or a hand-over action by name
    (which may be a plain utterance) hands over without a reason of its own."""
    if payload_reason is not None:
        return payload_reason
    if intent is not None and intent in names.intents:
        return "customer_request"
    if paused or not names.actions.isdisjoint(actions):
        return "assistant_handoff"
    return None


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

    The model decides first (`requested_by_model`); strongly negative sentiment hands over
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
