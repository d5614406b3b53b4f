"""Who answers a customer message: the dialogue model, a person, or a fixed polite reply.

Pure decisions on the conversation's state and the message's content; the worker
(bot/worker.py) carries them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.gibberish import looks_like_gibberish
from bot.handoff import HUMAN_STATES
from bot.messages import IncomingMessage
from bot.moderation import assess
from bot.phrases import shipped


@dataclass(frozen=True)
class ToHuman:
    """A person owns the conversation: store the message for them, the bot stays silent."""


@dataclass(frozen=True)
class ToModel:
    text: str


@dataclass(frozen=True)
class HandOver:
    """The bot cannot help (a language its model does not speak): a person takes over."""

    reason: str


@dataclass(frozen=True)
class PoliteReply:
    """Something the model cannot read (a sticker, a voice note, only emoji)."""

    text: str
    reason: str


@dataclass(frozen=True)
class Moderate:
    """Abuse or spam on a public post: flagged for moderation, never answered by the bot."""

    reason: str


Route = ToHuman | ToModel | PoliteReply | Moderate | HandOver

UNREADABLE_KINDS = {
    "image": "photo",
    "sticker": "sticker",
    "audio": "voice message",
    "video": "video",
    "file": "file",
    "location": "location",
}


def route(message: IncomingMessage, conversation_status: str, *, other_language: str | None = None,
          rated_already: str | None = None) -> Route:
    """`other_language`: the message is clearly in a language other than the bot's
    (bot/language.py); `rated_already`: that reply in the customer's language (the
    shipped English one when not given)."""
    if message.is_public and (verdict := assess(message.text)).flagged:
        return Moderate(verdict.reason or "flagged")
    if conversation_status in HUMAN_STATES:
        return ToHuman()
    if message.payload and RATING_PAYLOAD.match(message.payload.strip()):
        # A rating button pressed again, or after the question expired: the model has no such intent.
        return PoliteReply(rated_already or shipped().say("rated_already", None), reason="rating_again")
    if message.payload:
        # A button press: Rasa understands its payload ("/intent") directly.
        return ToModel(message.payload)
    text = message.text.strip()
    if not text and message.attachments:
        kind = UNREADABLE_KINDS.get(message.attachments[0].kind, "attachment")
        return PoliteReply(
            f"Thanks for the {kind}! I can only read text for now. Could you tell me in a few "
            "words what you need? If you'd rather talk to a person, just say so.",
            reason=f"unreadable_{message.attachments[0].kind}",
        )
    if not any(ch.isalnum() for ch in text):
        return PoliteReply(
            "😊 Is there anything I can help you with? I can track an order, explain shipping "
            "and returns, or connect you with a person.",
            reason="no_words",
        )
    if looks_like_gibberish(text):
        return PoliteReply(
            "Sorry, I didn't catch that. Could you say it in other words? I can track an order, "
            "explain shipping, returns and payments, or connect you with a person.",
            reason="gibberish",
        )
    if other_language:
        return HandOver("other_language")
    return ToModel(text)


RATING_PAYLOAD = re.compile(r'^/rate\{\s*"score"\s*:\s*"?([1-5])"?\s*\}$')
# Every message is tried against this, on the event loop that answers the webhooks. Applied
# to stripped text, each optional part begins with its own `\s*` and no two `\s*` are
# adjacent, so a long run of spaces is read once (two adjacent ones, as in `\s*[.!]?\s*`,
# try every split of the run: "1" + 50,000 spaces + "x" took seconds).
RATING_TEXT = re.compile(r"([1-5])(?:\s*(?:/\s*5|stars?|⭐+))?(?:\s*[.!])?", re.IGNORECASE)
# A rating is a few characters ("4", "3 / 5!", "5 stars", "5 ⭐⭐⭐⭐⭐"): a longer text is not one.
RATING_MAX_CHARS = 24


def satisfaction_score(message: IncomingMessage) -> int | None:
    """A 1-5 answer to the satisfaction question: a button's payload ("/rate{"score": 4}")
    or a bare number typed back ("4", "4/5", "4 stars"). Anything else is a new question."""
    if message.payload:
        match = RATING_PAYLOAD.match(message.payload.strip())
    else:
        text = message.text.strip()
        match = RATING_TEXT.fullmatch(text) if len(text) <= RATING_MAX_CHARS else None
    return int(match.group(1)) if match else None
