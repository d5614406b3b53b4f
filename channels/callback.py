"""Rasa's callback channel: a client POSTs {"sender", "message"} to
/webhooks/callback/webhook and is answered "success" at once; the replies are POSTed later
to the configured CALLBACK_URL, one per reply, in the shape of Rasa's REST answers
({"recipient_id", "text", "buttons"?, "image"?, "custom"?}).

Unlike plain REST, a reply can reach the customer after their request, so agents can
answer them; the outbox delivers and retries like any platform's send.
"""

from __future__ import annotations

import time
from dataclasses import replace

from bot.bus import Bus
from bot.http import ApiUnreachable, HttpClient, retry_after
from bot.messages import IncomingMessage
from bot.settings import Settings
from channels.base import Delivery, HandshakeResponse, SendResult, WebhookRequest
from channels.rest import RestChannel

NAME = "callback"


class CallbackChannel:
    name = NAME
    # Rasa's CallbackInput answers its webhook with this text.
    acknowledgement = "success"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.url = settings.callback_url
        self.http = http
        self.missing_settings: tuple[str, ...] = () if self.url else ("CALLBACK_URL",)
        self._rest = RestChannel(settings.max_text_chars)

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        return None

    def parse(self, request: WebhookRequest) -> list[IncomingMessage]:
        """The same body as Rasa's REST channel (and the same checks)."""
        return [replace(message, channel=NAME) for message in self._rest.parse(request)]

    async def send(self, delivery: Delivery) -> SendResult:
        body = replace(delivery.message, channel=NAME).as_rasa_response()
        try:
            # The receiver can drop a retried reply it already has by this key.
            answer = await self.http.request_json("POST", self.url, json=body,
                                                  headers={"Idempotency-Key": delivery.idempotency_key})
        except ApiUnreachable as error:
            return SendResult.retry(f"callback URL {error}")
        if 200 <= answer.status < 300:
            return SendResult.sent(f"{NAME}-{delivery.history_id}")
        readable = f"callback URL answered {answer.status}"
        if answer.status in (408, 425, 429) or answer.status >= 500:
            return SendResult.retry(readable, after=retry_after(answer.headers.get("Retry-After"), time.time()))
        return SendResult.failed(readable)


def build(settings: Settings, http: HttpClient, bus: Bus) -> CallbackChannel:
    return CallbackChannel(settings, http)
