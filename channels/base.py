"""The contract every platform adapter implements.

An adapter never imports the dialogue engine or the database: the webhook layer hands it
raw bytes and headers, it answers with typed messages; the outbox hands it an
`OutgoingMessage`, it answers with a `SendResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.messages import IncomingMessage, OutgoingMessage, StatusUpdate


class WebhookRejected(Exception):
    """The request is not acceptable; `status` and `reason` go back to the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class WebhookRequest:
    """What an adapter may look at: nothing else of the HTTP request leaks in."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class HandshakeResponse:
    """A platform's verification challenge answered (Meta's hub.challenge, X's CRC)."""

    status: int
    body: str
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Delivery:
    """One attempt at sending one reply, as the outbox hands it to a channel."""

    message: OutgoingMessage
    # The reply's id in the history; web chat shows it, echoes are matched on it.
    history_id: int
    # Stable across retries of the same reply, for platforms that deduplicate sends.
    idempotency_key: str
    attempt: int = 1
    # When the customer last wrote: Meta and WhatsApp only allow some sends within windows.
    customer_last_message_at: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    """What happened to one send. `retry_after` set means: try again later."""

    ok: bool
    platform_message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False

    @classmethod
    def sent(cls, platform_message_id: str | None = None) -> SendResult:
        return cls(ok=True, platform_message_id=platform_message_id)

    @classmethod
    def retry(cls, error: str, after: float | None = None) -> SendResult:
        return cls(ok=False, error=error, retry_after=after)

    @classmethod
    def failed(cls, error: str) -> SendResult:
        return cls(ok=False, error=error, permanent=True)


class Channel(Protocol):
    name: str
    # Names of the settings this channel still needs (empty when configured): an
    # unconfigured channel refuses its webhook with 403 and says what is missing.
    missing_settings: tuple[str, ...]

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        """Answer a GET verification request, or None when the channel has none."""

    def parse(self, request: WebhookRequest) -> list[IncomingMessage | StatusUpdate]:
        """Verify and parse a POST. Raises WebhookRejected; [] means 'acknowledge, ignore'."""

    async def send(self, delivery: Delivery) -> SendResult:
        """Deliver one reply through the platform's API."""
