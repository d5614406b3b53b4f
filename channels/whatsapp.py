"""WhatsApp through Meta's Cloud API: customer messages and delivery receipts in, replies out.

Webhooks share Meta's handshake and `X-Hub-Signature-256` (channels/meta.py). One webhook
may carry several entries, each with several changes; a change's `value` holds the
customer's `messages`, the `statuses` of our sends, and the business phone number they
belong to, so one app can serve several numbers and we answer only for ours.
Replies are text, interactive buttons (1-3) or lists (4-10), and images; a free-form
reply is only allowed within 24 hours of the customer's last message, after that only a
template, which an agent has to choose, so such a send fails at once and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.bus import Bus
from bot.http import HttpClient
from bot.messages import Attachment, Button, IncomingMessage, OutgoingMessage, StatusUpdate, utcnow
from bot.settings import Settings
from channels import meta
from channels.base import Delivery, HandshakeResponse, SendResult, WebhookRequest, send_parts
from channels.rest import decode_json_object
from channels.untrusted_json import array, name, obj
from channels.text import split_text

logger = logging.getLogger(__name__)

NAME = "whatsapp"
TEXT_LIMIT = 4096
# Interactive bodies and media captions are shorter than plain texts.
BODY_LIMIT = 1024
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
MAX_BUTTONS = 3
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
MAX_ROWS = 10
LIST_BUTTON = "Choose an option"
WINDOW_CLOSED = "outside WhatsApp's 24-hour window: a template message is needed"
# "Re-engagement message": WhatsApp's own verdict that the 24-hour window is closed.
REENGAGEMENT_CODE = 131047
MEDIA_KINDS = {"image": "image", "sticker": "sticker", "audio": "audio", "video": "video", "document": "file"}
STATUSES = {"sent", "delivered", "read", "failed"}

Parsed = IncomingMessage | StatusUpdate


# -- inbound: one small pure function per message type ---------------------------------------

@dataclass(frozen=True)
class _Read:
    """What a message type handler found in one message."""

    text: str = ""
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def _text(message: Mapping[str, Any]) -> _Read:
    return _Read(str(obj(message.get("text")).get("body") or ""))


def _interactive(message: Mapping[str, Any]) -> _Read | None:
    interactive = obj(message.get("interactive"))
    reply = interactive.get(str(interactive.get("type")))
    if interactive.get("type") not in ("button_reply", "list_reply") or not isinstance(reply, dict):
        return None  # e.g. an nfm_reply from a WhatsApp Flow: nothing the bot offered
    return _Read(str(reply.get("title") or ""), _payload(reply.get("id")))


def _template_button(message: Mapping[str, Any]) -> _Read:
    button = obj(message.get("button"))
    return _Read(str(button.get("text") or ""), _payload(button.get("payload")))


def _media(message: Mapping[str, Any]) -> _Read:
    kind = str(message.get("type"))
    media = obj(message.get(kind))
    # The media is only an id to download with the token: no public URL to keep.
    return _Read(str(media.get("caption") or ""), attachments=(Attachment(MEDIA_KINDS[kind]),))


def _location(message: Mapping[str, Any]) -> _Read:
    place = obj(message.get("location"))
    kept = {k: place[k] for k in ("latitude", "longitude", "name", "address") if k in place}
    return _Read(attachments=(Attachment("location"),), metadata={"location": kept})


def _unreadable(kind: str) -> Callable[[Mapping[str, Any]], _Read]:
    def handler(message: Mapping[str, Any]) -> _Read:
        return _Read(attachments=(Attachment(kind),))
    return handler


def _ignore(message: Mapping[str, Any]) -> None:
    return None


MESSAGE_TYPES: dict[str, Callable[[Mapping[str, Any]], _Read | None]] = {
    "text": _text,
    "interactive": _interactive,
    "button": _template_button,
    **{kind: _media for kind in MEDIA_KINDS},
    "location": _location,
    "contacts": _unreadable("contact"),
    # A message type WhatsApp itself cannot pass on (polls, view-once...): still a customer
    # waiting for an answer.
    "unsupported": _unreadable("unsupported"),
    # A reaction to one of our replies is not a question; a "system" message says the
    # customer changed numbers.
    "reaction": _ignore,
    "system": _ignore,
}


def _payload(value: Any) -> str | None:
    """A button id is handed to Rasa as is only when it is a Rasa payload ("/intent")."""
    return value if isinstance(value, str) and value.startswith("/") else None


def _message(message: Mapping[str, Any], names: Mapping[str, str]) -> list[Parsed]:
    kind, sender, message_id = message.get("type"), message.get("from"), message.get("id")
    handler = MESSAGE_TYPES.get(str(kind))
    if handler is None:
        logger.info("whatsapp: ignoring message type %r", kind)
        return []
    if not sender or not message_id:
        return []
    read = handler(message)
    if read is None:
        return []
    return [IncomingMessage(
        channel=NAME, sender_id=str(sender), text=read.text.strip(), message_id=str(message_id),
        sender_name=names.get(str(sender)), payload=read.payload, attachments=read.attachments,
        metadata=read.metadata,
    )]


def _status(status: Mapping[str, Any]) -> list[Parsed]:
    state, sent_id = status.get("status"), status.get("id")
    if not isinstance(state, str) or state not in STATUSES or not sent_id:
        return []
    error = None
    if state == "failed":
        error = "; ".join(_status_error(e) for e in array(status.get("errors")) if isinstance(e, dict)) or "failed"
    return [StatusUpdate(channel=NAME, platform_message_id=str(sent_id), status=str(state), error=error)]


def _status_error(error: Mapping[str, Any]) -> str:
    if error.get("code") == REENGAGEMENT_CODE:
        return WINDOW_CLOSED
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    readable = f"{error.get('title') or error.get('message') or 'error'} (code {error.get('code')})"
    return f"{readable}: {details}" if details else readable


def _change(value: Mapping[str, Any], phone_number_id: str) -> list[Parsed]:
    ours = str(obj(value.get("metadata")).get("phone_number_id") or "")
    if ours != phone_number_id:
        logger.info("whatsapp: ignoring a change for phone number id %r (ours is %r)", ours, phone_number_id)
        return []
    names = {str(c.get("wa_id")): found for c in array(value.get("contacts"))
             if isinstance(c, dict) and (found := name(obj(c.get("profile")).get("name")))}
    parsed: list[Parsed] = []
    for message in array(value.get("messages")):
        if isinstance(message, dict):
            parsed.extend(_message(message, names))
    for status in array(value.get("statuses")):
        if isinstance(status, dict):
            parsed.extend(_status(status))
    return parsed


def parse_changes(data: Mapping[str, Any], phone_number_id: str) -> list[Parsed]:
    """Every message and receipt of every change of every entry, in order."""
    if data.get("object") != "whatsapp_business_account":
        logger.info("whatsapp: ignoring a webhook for object %r", data.get("object"))
        return []
    parsed: list[Parsed] = []
    for entry in array(data.get("entry")):
        for change in array(obj(entry).get("changes")):
            if not isinstance(change, dict):
                continue
            if change.get("field") != "messages" or not isinstance(change.get("value"), dict):
                logger.info("whatsapp: ignoring a change of field %r", change.get("field"))
                continue
            parsed.extend(_change(change["value"], phone_number_id))
    return parsed


# -- outbound --------------------------------------------------------------------------------

def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _id(button: Button, limit: int) -> str:
    # A payload too long to be an id comes back as the title, which the model reads as text.
    return button.payload if button.payload and len(button.payload) <= limit else _fit(button.title, limit)


def _choices(body: str, buttons: tuple[Button, ...]) -> dict[str, Any]:
    """1-3 buttons as reply buttons, more as a list (WhatsApp shows at most 10 rows)."""
    if len(buttons) <= MAX_BUTTONS:
        return {"type": "button", "body": {"text": body}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": _id(b, BUTTON_ID_LIMIT), "title": _fit(b.title, BUTTON_TITLE_LIMIT)}}
            for b in buttons]}}
    if len(buttons) > MAX_ROWS:
        logger.warning("whatsapp: a list shows %d options; dropping %d", MAX_ROWS, len(buttons) - MAX_ROWS)
    rows = []
    for button in buttons[:MAX_ROWS]:
        row = {"id": _id(button, ROW_ID_LIMIT), "title": _fit(button.title, ROW_TITLE_LIMIT)}
        if len(button.title) > ROW_TITLE_LIMIT:
            row["description"] = _fit(button.title, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    return {"type": "list", "body": {"text": body}, "action": {"button": LIST_BUTTON, "sections": [{"rows": rows}]}}


def plan(message: OutgoingMessage) -> list[dict[str, Any]]:
    """The Cloud API message bodies for one reply, in order (without the envelope)."""
    text = message.text.strip()
    if message.image and not message.buttons and len(text) <= BODY_LIMIT:
        return [{"type": "image", "image": {"link": message.image, **({"caption": text} if text else {})}}]
    pieces = split_text(text, TEXT_LIMIT)
    choices: list[dict[str, Any]] = []
    if message.buttons:
        # The buttons hang under the last piece, which must fit an interactive body.
        tail = split_text(pieces.pop(), BODY_LIMIT) if pieces else ["Please choose:"]
        pieces.extend(tail[:-1])
        choices.append({"type": "interactive", "interactive": _choices(tail[-1], message.buttons)})
    image = [{"type": "image", "image": {"link": message.image}}] if message.image else []
    return [{"type": "text", "text": {"body": piece}} for piece in pieces] + choices + image


class WhatsAppChannel:
    name = NAME

    def __init__(self, settings: Settings, http: HttpClient, clock: Callable[[], datetime] = utcnow) -> None:
        self.app_secret = settings.meta_app_secret
        self.verify_token = settings.meta_verify_token
        self.phone_number_id = settings.whatsapp_phone_number_id
        self.graph = meta.GraphApi(settings.meta_graph_url, settings.whatsapp_access_token, http)
        self.clock = clock
        self.missing_settings = tuple(name for name, value in (
            ("META_APP_SECRET", self.app_secret), ("META_VERIFY_TOKEN", self.verify_token),
            ("WHATSAPP_ACCESS_TOKEN", settings.whatsapp_access_token),
            ("WHATSAPP_PHONE_NUMBER_ID", self.phone_number_id)) if not value)

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        return meta.handshake(self.verify_token, request)

    def parse(self, request: WebhookRequest) -> list[Parsed]:
        meta.verify_signature(self.app_secret, request)
        return parse_changes(decode_json_object(request.body), self.phone_number_id)

    async def send(self, delivery: Delivery) -> SendResult:
        if not meta.within(meta.STANDARD_WINDOW, delivery.customer_last_message_at, self.clock()):
            return SendResult.failed(WINDOW_CLOSED)
        message = delivery.message
        bodies = plan(message)
        if not bodies:
            return SendResult.failed("nothing WhatsApp can show (no text, image or buttons)")
        result = await send_parts(delivery, bodies, lambda body: self.graph.post(f"{self.phone_number_id}/messages", {
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": message.recipient_id, **body}))
        if not result.ok and result.error and f"(code {REENGAGEMENT_CODE}" in result.error:
            return replace(result, error=f"{WINDOW_CLOSED} ({result.error})", permanent=True, retry_after=None)
        return result


def build(settings: Settings, http: HttpClient, bus: Bus) -> WhatsAppChannel:
    return WhatsAppChannel(settings, http)
