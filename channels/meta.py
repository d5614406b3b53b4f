"""What Messenger, Instagram, page comments and WhatsApp share: Meta's Graph API.

The webhook handshake (hub.mode / hub.verify_token / hub.challenge), the
`X-Hub-Signature-256` check of the raw body, the messaging windows, and one call to the
Graph API whose errors are sorted into "retry later" and "give up" the same way for all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.http import ApiUnreachable, HttpClient, retry_after
from channels.base import HandshakeResponse, SendResult, WebhookRejected, WebhookRequest

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-hub-signature-256"
# A bot may answer within 24 hours of the customer's last message; a person (HUMAN_AGENT
# tag on Messenger and Instagram) within 7 days.
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
# A comment may get one private reply, within 7 days of the comment.
PRIVATE_REPLY_WINDOW = timedelta(days=7)

# Graph error codes worth retrying: temporary failures and the rate limits.
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 80006, 80007, 131016, 131048, 131056, 130429}


def signature(app_secret: str, body: bytes) -> str:
    """Meta's signature of a webhook body: "sha256=" + hex HMAC-SHA256 keyed with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: str, request: WebhookRequest) -> None:
    given = next((v for k, v in request.headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not given:
        raise WebhookRejected(403, "missing X-Hub-Signature-256 header")
    if not hmac.compare_digest(given.strip().lower().encode(), signature(app_secret, request.body).encode()):
        raise WebhookRejected(403, "X-Hub-Signature-256 does not match the body")


def handshake(verify_token: str, request: WebhookRequest) -> HandshakeResponse:
    """The subscription check: echo hub.challenge when hub.verify_token is ours."""
    query = request.query
    if query.get("hub.mode") != "subscribe":
        raise WebhookRejected(400, "expected hub.mode=subscribe")
    if not hmac.compare_digest(str(query.get("hub.verify_token", "")).encode(), verify_token.encode()):
        raise WebhookRejected(403, "hub.verify_token does not match")
    challenge = query.get("hub.challenge", "")
    if not challenge:
        raise WebhookRejected(400, "missing hub.challenge")
    return HandshakeResponse(200, challenge)


def within(window: timedelta, last_customer_message: datetime | None, now: datetime) -> bool:
    """Whether `now` is inside the window opened by the customer's last message."""
    return last_customer_message is not None and now - last_customer_message <= window


def error_of(status: int, body: Any) -> tuple[str, bool]:
    """A readable error and whether it is worth retrying, from a Graph error response."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = body[:200] if isinstance(body, str) else ""
        return f"Graph API {status}{': ' + text if text else ''}", status == 429 or status >= 500
    code, subcode = error.get("code"), error.get("error_subcode")
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    readable = f"Graph API {status}: {error.get('message') or error.get('title') or 'error'}"
    readable += f" (code {code}" + (f", subcode {subcode}" if subcode else "") + ")"
    if details:
        readable += f": {details}"
    transient = bool(error.get("is_transient")) or code in TRANSIENT_CODES or status == 429 or status >= 500
    return readable, transient


class GraphApi:
    """POSTs to the Graph API with a bearer token; answers a SendResult."""

    def __init__(self, base_url: str, access_token: str, http: HttpClient,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.http = http
        # Epoch seconds: a Retry-After given as an HTTP-date is counted from it.
        self.clock = clock

    async def post(self, path: str, body: Mapping[str, Any], id_field: str = "message_id") -> SendResult:
        try:
            answer = await self.http.request_json("POST", f"{self.base_url}/{path.lstrip('/')}", json=dict(body),
                                                  headers={"Authorization": f"Bearer {self.access_token}"})
        except ApiUnreachable as error:
            return SendResult.retry(f"Graph API {error}")
        status, headers, answer = answer.status, answer.headers, answer.body
        if 200 <= status < 300:
            # The Send API names whom it delivered to: for a private reply to a comment that
            # is the commenter's PSID, where their private answer will come from.
            recipient = answer.get("recipient_id") if isinstance(answer, dict) else None
            return replace(SendResult.sent(_found_id(answer, id_field)),
                           recipient_id=str(recipient) if recipient else None)
        readable, transient = error_of(status, answer)
        if transient:
            return SendResult.retry(readable, after=retry_after(headers.get("Retry-After"), self.clock()))
        return SendResult.failed(readable)


def _found_id(answer: Any, id_field: str) -> str | None:
    if not isinstance(answer, dict):
        return None
    if answer.get(id_field) is not None:
        return str(answer[id_field])
    # WhatsApp answers {"messages": [{"id": "wamid..."}]}.
    messages = answer.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict) and messages[0].get("id"):
        return str(messages[0]["id"])
    return str(answer["id"]) if answer.get("id") is not None else None
