"""The web chat widget on the brand's own site, over a WebSocket.

Customer frames are parsed here; replies are published on the bus to whichever web
process holds the customer's socket (bot/webchat.py forwards them).
"""

from __future__ import annotations

from typing import Any

from bot.bus import Bus, customer_topic
from bot.messages import IncomingMessage, OutgoingMessage, utcnow
from channels import untrusted_json
from channels.base import (Delivery, HandshakeResponse, SendResult, WebhookRejected, WebhookRequest,
                           scoped_message_id)


class WebchatChannel:
    name = "webchat"
    missing_settings: tuple[str, ...] = ()

    def __init__(self, bus: Bus, max_text_chars: int = 4096) -> None:
        self.bus = bus
        self.max_text_chars = max_text_chars

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        return None

    def parse(self, request: WebhookRequest) -> list[IncomingMessage]:
        raise WebhookRejected(405, "the web chat speaks over its WebSocket")

    def parse_frame(self, sender_id: str, raw: str, client_address: str | None = None) -> IncomingMessage:
        frame = untrusted_json.loads(raw)
        if not isinstance(frame, dict):
            raise WebhookRejected(400, "a frame must be a JSON object")
        kind, client_id = frame.get("type"), frame.get("client_id")
        if not isinstance(client_id, str) or not client_id or len(client_id) > 128:
            raise WebhookRejected(400, "'client_id' must be a short non-empty string")
        text = frame.get("text") if kind == "message" else frame.get("title")
        if kind not in ("message", "postback"):
            raise WebhookRejected(400, f"unknown frame type {kind!r}")
        if not isinstance(text, str) or not text.strip():
            raise WebhookRejected(400, "the message is empty")
        if len(text) > self.max_text_chars:
            raise WebhookRejected(400, f"the message is longer than {self.max_text_chars} characters")
        payload = frame.get("payload") if kind == "postback" else None
        if payload is not None and (not isinstance(payload, str) or not payload.startswith("/")):
            raise WebhookRejected(400, "a postback payload must be an intent ('/name')")
        # The payload goes to the router and the model like a text, and is bounded like one.
        if payload is not None and len(payload) > self.max_text_chars:
            raise WebhookRejected(400, f"the payload is longer than {self.max_text_chars} characters")
        # The widget picks client_id, so it is a message id only within its sender; the
        # widget's own id stays in the metadata for the ack and the history.
        return IncomingMessage(channel=self.name, sender_id=sender_id, text=text,
                               message_id=scoped_message_id(sender_id, client_id),
                               payload=payload, metadata={"client_id": client_id},
                               client_address=client_address)

    async def send(self, delivery: Delivery) -> SendResult:
        message = delivery.message
        await self.bus.publish(customer_topic(f"{self.name}:{message.recipient_id}"),
                               message_frame(delivery.history_id, message.author, message.text,
                                             [b.__dict__ for b in message.buttons], message.image,
                                             _shown_name(message), utcnow().isoformat(), None))
        return SendResult.sent(f"webchat-{delivery.history_id}")


def _shown_name(message: OutgoingMessage) -> str | None:
    # A reply queued before agents had display names carries only the login name, which
    # is then what the customer is shown anyway.
    return message.agent_shown_as or message.agent_name


def message_frame(history_id: int, author: str, text: str, buttons: list[dict[str, str]], image: str | None,
                  agent_name: str | None, created_at: str, client_id: str | None) -> dict[str, Any]:
    return {"type": "message", "id": str(history_id), "author": author, "text": text, "buttons": buttons,
            "image": image, "agent_name": agent_name, "created_at": created_at, "client_id": client_id}
