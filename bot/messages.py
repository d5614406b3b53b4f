"""What crosses the boundary of a channel module: typed, frozen, no I/O.

Raw platform payloads never leave `channels/`; everything after the webhook works with
these objects, and they round-trip through JSON for the inbox and outbox tables.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Attachment:
    """Something the customer sent that is not text: image, sticker, audio, location..."""

    kind: str
    url: str | None = None


# The key of the service's own facts in the metadata a message takes into Rasa.
SERVICE_METADATA_KEY = "brand_assistant"

# Channels whose clients name their own senders, as Rasa's REST, callback and socket.io
# channels do: inside Rasa the sender id is the client's, unchanged, so trackers, action
# code and systems reading Rasa's events see the ids they saw under `rasa run`. A
# platform's ids keep their channel in front: a Telegram id and a WhatsApp number can be
# the same digits. The history keeps the channel apart either way (`conversation_key`).
SENDER_NAMED_CHANNELS = frozenset({"rest", "callback", "socketio"})


def rasa_sender_id(channel: str, sender_id: str) -> str:
    """The conversation's id inside Rasa (its tracker's `sender_id`)."""
    return sender_id if channel in SENDER_NAMED_CHANNELS else f"{channel}:{sender_id}"


@dataclass(frozen=True)
class IncomingMessage:
    """One thing a customer said, normalised from any platform."""

    channel: str
    sender_id: str
    text: str
    # The platform's own id of this message: the deduplication key with `channel`.
    message_id: str
    sender_name: str | None = None
    # A button press carries the payload Rasa understands ("/intent{...}").
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # Comments and mentions are seen by everyone; the bot answers them differently.
    is_public: bool = False
    # What a reply answers, platform specific: the public post (comment id, tweet id), or
    # Telegram's pressed button (callback query id). The bot's replies carry it along.
    thread_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Open channels only (REST, web chat, socket.io, callback), whose clients choose their
    # own sender ids: the client's address, which the per-address limits are keyed on.
    client_address: str | None = None

    @property
    def conversation_key(self) -> str:
        return f"{self.channel}:{self.sender_id}"

    @property
    def rasa_sender_id(self) -> str:
        return rasa_sender_id(self.channel, self.sender_id)

    def rasa_metadata(self) -> dict[str, Any]:
        """The metadata Rasa's own channel would give actions (`tracker.latest_message
        ["metadata"]`): REST's `metadata`, socket.io's `customData`; and under
        `SERVICE_METADATA_KEY` what this service knows of the message on every channel
        (channel, public or private, the thread a reply answers, the platform's facts)."""
        own = {"rest": self.metadata, "socketio": self.metadata.get("customData")}.get(self.channel)
        facts: dict[str, Any] = {"channel": self.channel, "is_public": self.is_public}
        if self.thread_id is not None:
            facts["thread_id"] = self.thread_id
        if own is None and self.metadata:
            facts["platform"] = self.metadata
        return {**(own if isinstance(own, dict) else {}), SERVICE_METADATA_KEY: facts}

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncomingMessage:
        fields = dict(data)
        fields["attachments"] = tuple(Attachment(**a) for a in data.get("attachments", ()))
        return cls(**fields)


@dataclass(frozen=True)
class OutgoingMessage:
    """One reply to a customer, from the bot or an agent, before platform mapping."""

    channel: str
    recipient_id: str
    text: str = ""
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    # Anything a Rasa response carried under "custom" that the channel may understand.
    custom: dict[str, Any] | None = None
    author: str = "bot"
    # The agent's login name: the history keeps it, to say which account wrote.
    agent_name: str | None = None
    # What the customer is shown for that agent (their display name, or the login name
    # when they have none); a channel that names the writer shows this, never agent_name.
    agent_shown_as: str | None = None
    is_public: bool = False
    thread_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutgoingMessage:
        fields = dict(data)
        fields["buttons"] = tuple(Button(**b) for b in data.get("buttons", ()))
        return cls(**fields)

    def as_rasa_response(self) -> dict[str, Any]:
        """The shape Rasa's REST channel answers with, so Rasa clients work unchanged."""
        response: dict[str, Any] = {"recipient_id": self.recipient_id}
        if self.text:
            response["text"] = self.text
        if self.buttons:
            response["buttons"] = [dataclasses.asdict(b) for b in self.buttons]
        if self.image:
            response["image"] = self.image
        if self.custom:
            response["custom"] = self.custom
        return response


@dataclass(frozen=True)
class StatusUpdate:
    """A platform's receipt for one of our sends: delivered, read, or failed."""

    channel: str
    platform_message_id: str
    status: str  # delivered | read | failed
    error: str | None = None


DELIVERY_ORDER = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}
