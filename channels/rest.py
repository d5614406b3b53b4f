"""Rasa's REST channel contract: POST {"sender", "message"} and get the replies back.

Existing Rasa REST clients work unchanged. An optional "message_id" deduplicates a
retried request: the retry gets the first request's replies, never a second answer. The
id is the client's choice, so it is scoped to its sender: another sender's "1" is another
message.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Any

from bot.messages import IncomingMessage
from channels import untrusted_json
from channels.base import (Delivery, HandshakeResponse, SendResult, WebhookRejected, WebhookRequest,
                           scoped_message_id)


def decode_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WebhookRejected(400, f"the body is not UTF-8 (byte {error.start})") from error
    data = untrusted_json.loads(text)
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body must be a JSON object")
    return data


def _json_body(request: WebhookRequest) -> dict[str, Any]:
    """The body as a JSON object. A body that is JSON is taken whatever its Content-Type
    says, as Rasa does (`curl -d` sends JSON as a form); anything else declared as another
    type (a form, plain text) is refused with 415 and what to send instead."""
    try:
        return decode_json_object(request.body)
    except WebhookRejected as rejected:
        declared = next((value for name, value in request.headers.items() if name.lower() == "content-type"), "")
        media = declared.split(";", 1)[0].strip().lower()
        if not media or media == "application/json" or media.endswith("+json"):
            raise
        raise WebhookRejected(415, "the REST webhook expects a JSON body (Content-Type: application/json) "
                                   'such as {"sender": "alice", "message": "hi"}; '
                                   f"this request sent {media[:100]}") from rejected


class RestChannel:
    name = "rest"
    missing_settings: tuple[str, ...] = ()
    # Replies leave in the response to the request that carried the message.
    replies_in_band = True

    def __init__(self, max_text_chars: int = 4096, auth_token: str = "") -> None:
        self.max_text_chars = max_text_chars
        self.auth_token = auth_token

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        return None

    def authorise(self, request: WebhookRequest) -> None:
        """With REST_AUTH_TOKEN set, the request must carry it: `?token=` as Rasa's
        `--auth-token` clients send it, or an `Authorization: Bearer` header."""
        if not self.auth_token:
            return
        given = request.query.get("token")
        if given is None:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        if not given:
            raise WebhookRejected(401, "this REST webhook needs a token: ?token=...")
        if not hmac.compare_digest(given.encode(), self.auth_token.encode()):
            raise WebhookRejected(401, "the token is not valid")

    def parse(self, request: WebhookRequest) -> list[IncomingMessage]:
        self.authorise(request)
        data = _json_body(request)
        sender, text = data.get("sender"), data.get("message")
        if sender is None or text is None:
            missing = [name for name in ("sender", "message") if data.get(name) is None]
            raise WebhookRejected(400, f"missing field(s): {', '.join(missing)}")
        if not isinstance(sender, str) or not sender.strip():
            raise WebhookRejected(400, "'sender' must be a non-empty string")
        if not isinstance(text, str):
            raise WebhookRejected(400, "'message' must be a string")
        if not text.strip():
            raise WebhookRejected(400, "'message' is empty")
        if len(text) > self.max_text_chars:
            raise WebhookRejected(400, f"'message' is longer than {self.max_text_chars} characters")
        message_id = data.get("message_id")
        if message_id is not None and not isinstance(message_id, (str, int)):
            raise WebhookRejected(400, "'message_id' must be a string")
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        sender = sender.strip()[:255]
        return [IncomingMessage(
            channel=self.name, sender_id=sender, text=text,
            message_id=scoped_message_id(sender, str(message_id)) if message_id is not None else uuid.uuid4().hex,
            metadata=metadata, client_address=request.client_address,
        )]

    async def send(self, delivery: Delivery) -> SendResult:
        # The replies went back in the HTTP response that carried the message.
        return SendResult.sent()
