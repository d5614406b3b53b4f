"""The contract every platform adapter implements.

An adapter never imports the dialogue engine or the database: the webhook layer hands it
raw bytes and headers, it answers with typed messages; the outbox hands it an
`OutgoingMessage`, it answers with a `SendResult`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, TypeVar

from bot.messages import IncomingMessage, OutgoingMessage, StatusUpdate


# The length of the inbox's and the history's platform_message_id columns.
PLATFORM_ID_MAX = 255


def scoped_message_id(sender_id: str, client_id: str) -> str:
    """A message id the customer's client chose, made unique per sender.

    The inbox deduplicates on (channel, message id). Where the client picks the id (REST,
    web chat) two customers may pick the same one, and the second would be answered with
    the first one's replies. The sender's ":" and "%" are escaped, so that "a:b" + "c" and
    "a" + "b:c" stay apart; a key too long for the column is hashed, behind a "%sha256:"
    no escaped sender can begin with (its "%" is always followed by 25 or 3A).
    """
    sender = sender_id.replace("%", "%25").replace(":", "%3A")
    scoped = f"{sender}:{client_id}"
    if len(scoped) <= PLATFORM_ID_MAX:
        return scoped
    return "%sha256:" + hashlib.sha256(scoped.encode()).hexdigest()


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
    # The client's address (bot/client_address.py): the open channels put it on their
    # messages for the per-address limits; platforms' adapters ignore it.
    client_address: str | None = None


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
    # A reply a platform takes in several calls (a long text in pieces, then an image): how
    # many of them earlier attempts delivered. A retry starts after those (`send_parts`).
    parts_sent: int = 0


@dataclass(frozen=True)
class SendResult:
    """What happened to one send. `retry_after` set means: try again later."""

    ok: bool
    platform_message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False
    # How many parts of the reply are delivered now, earlier attempts included; None when
    # the channel sends a reply in one call. The outbox keeps it for the next attempt.
    parts_sent: int | None = None
    # Whom the platform says it delivered to, when that is not whom we addressed: Meta answers
    # a private reply to a comment with the commenter's PSID, where their answer comes from.
    recipient_id: str | None = None

    @classmethod
    def sent(cls, platform_message_id: str | None = None) -> SendResult:
        return cls(ok=True, platform_message_id=platform_message_id)

    @classmethod
    def retry(cls, error: str, after: float | None = None) -> SendResult:
        return cls(ok=False, error=error, retry_after=after)

    @classmethod
    def failed(cls, error: str) -> SendResult:
        return cls(ok=False, error=error, permanent=True)


Part = TypeVar("Part")


async def send_parts(delivery: Delivery, parts: Sequence[Part],
                     send_one: Callable[[Part], Awaitable[SendResult]]) -> SendResult:
    """Send a reply's parts in order, starting after those earlier attempts delivered, and
    stop at the first that fails: the result says how many are delivered, so that a retry
    resumes there instead of sending the customer the delivered parts again."""
    done = min(max(delivery.parts_sent, 0), len(parts))
    result = SendResult.sent()
    for part in parts[done:]:
        result = await send_one(part)
        if not result.ok:
            break
        done += 1
    return replace(result, parts_sent=done)


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
