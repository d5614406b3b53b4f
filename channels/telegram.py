"""Telegram through the Bot API: updates in by webhook, replies out by sendMessage/sendPhoto.

Telegram does not sign its webhooks; instead it sends back, in
`X-Telegram-Bot-Api-Secret-Token`, the secret given to setWebhook (`python -m bot telegram
set-webhook` registers both). Every update has an `update_id`, the same on redelivery, so
it is the deduplication key of whatever the update carries. Only private chats are
customers; groups and channels the bot is added to are not served.

A pressed inline button keeps spinning until the bot calls answerCallbackQuery. The
webhook is acknowledged before any work, so the press is answered when its reply is sent:
the callback query's id travels with the message as its `thread_id` (what the reply
answers), and `send` answers it before the first message goes out.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.bus import Bus
from bot.http import ApiUnreachable, HttpClient
from bot.messages import Attachment, Button, IncomingMessage, OutgoingMessage
from bot.settings import Settings
from channels.base import Delivery, HandshakeResponse, SendResult, WebhookRejected, WebhookRequest, send_parts
from channels.rest import decode_json_object
from channels.untrusted_json import array, obj
from channels.text import split_text

logger = logging.getLogger(__name__)

NAME = "telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_BYTES = 64
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


# -- inbound: one small pure function per update kind, and per message content -------------

@dataclass(frozen=True)
class _Read:
    """What a content handler found in one message."""

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def _text(message: Mapping[str, Any]) -> _Read:
    text = str(message.get("text") or "")
    command = next((e for e in array(message.get("entities")) if isinstance(e, dict)
                    and e.get("type") == "bot_command" and e.get("offset") == 0), None)
    length = command.get("length") if command is not None else None
    if not isinstance(length, int) or length <= 0:
        return _Read(text)
    name, rest = text[:length].split("@")[0].lower(), text[length:].strip()
    if name == "/start":
        # Telegram sends /start when a customer opens the chat: it means hello. A deep link
        # (t.me/<bot>?start=<parameter>) adds the parameter, kept for the record.
        return _Read("hi", metadata={"command": name, **({"start": rest} if rest else {})})
    # "/help@NorthwindHelpBot returns" → "help returns": the model reads words, not commands.
    return _Read(f"{name[1:]} {rest}".strip(), metadata={"command": name})


def _media(kind: str) -> Callable[[Mapping[str, Any]], _Read]:
    def handler(message: Mapping[str, Any]) -> _Read:
        # Telegram gives a file_id to fetch with the bot token, not a public URL.
        return _Read(str(message.get("caption") or ""), (Attachment(kind),))
    return handler


def _location(message: Mapping[str, Any]) -> _Read:
    place = obj(message.get("location"))
    return _Read(attachments=(Attachment("location"),),
                 metadata={"location": {k: place[k] for k in ("latitude", "longitude") if k in place}})


# The first key a message has decides what it is; unknown contents are ignored.
CONTENTS: dict[str, Callable[[Mapping[str, Any]], _Read]] = {
    "text": _text,
    "photo": _media("image"),
    "sticker": _media("sticker"),
    "voice": _media("audio"),
    "audio": _media("audio"),
    "video": _media("video"),
    "video_note": _media("video"),
    "animation": _media("video"),
    "document": _media("file"),
    "location": _location,
    "contact": _media("contact"),
}


def _private_customer(chat: Any, sender: Any, update_id: int) -> bool:
    if not isinstance(chat, dict) or chat.get("type") != "private":
        logger.info("telegram: ignoring update %s from a %s chat", update_id,
                    chat.get("type") if isinstance(chat, dict) else "missing")
        return False
    return not (isinstance(sender, dict) and sender.get("is_bot"))


def _profile(user: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    name = " ".join(str(user[k]) for k in ("first_name", "last_name") if user.get(k)) or None
    return name, ({"username": user["username"]} if user.get("username") else {})


def _message(update_id: int, message: Any) -> list[IncomingMessage]:
    if not isinstance(message, dict) or not _private_customer(message.get("chat"), message.get("from"), update_id):
        return []
    if message["chat"].get("id") is None:
        return []
    kind = next((k for k in CONTENTS if k in message), None)
    if kind is None:
        logger.info("telegram: ignoring update %s: a message without content we know", update_id)
        return []
    read = CONTENTS[kind](message)
    name, profile = _profile(obj(message.get("from")) or message["chat"])
    return [IncomingMessage(
        channel=NAME, sender_id=str(message["chat"]["id"]), text=read.text.strip(), message_id=str(update_id),
        sender_name=name, attachments=read.attachments, metadata={**profile, **read.metadata},
    )]


def _callback_query(update_id: int, query: Any) -> list[IncomingMessage]:
    if not isinstance(query, dict) or not isinstance(query.get("message"), dict) or not query.get("data"):
        return []  # a button under an inline-mode message, or a game: not one of ours
    message, data = query["message"], str(query["data"])
    if not _private_customer(message.get("chat"), query.get("from"), update_id) or message["chat"].get("id") is None:
        return []
    name, profile = _profile(obj(query.get("from")))
    return [IncomingMessage(
        channel=NAME, sender_id=str(message["chat"]["id"]), text=_button_title(message, data) or data,
        message_id=str(update_id), sender_name=name, payload=data if data.startswith("/") else None,
        thread_id=str(query["id"]) if query.get("id") else None, metadata=profile,
    )]


def _button_title(message: Mapping[str, Any], data: str) -> str | None:
    """The title of the pressed button, found in the keyboard of the message it sat under."""
    rows = array(obj(message.get("reply_markup")).get("inline_keyboard"))
    return next((b["text"] for row in rows if isinstance(row, list) for b in row
                 if isinstance(b, dict) and b.get("callback_data") == data and isinstance(b.get("text"), str)), None)


def _ignore(update_id: int, content: Any) -> list[IncomingMessage]:
    return []


UPDATES: dict[str, Callable[[int, Any], list[IncomingMessage]]] = {
    "message": _message,
    # An edit is answered as what the customer now says; it is its own update, its own id.
    "edited_message": _message,
    "callback_query": _callback_query,
    **{kind: _ignore for kind in (
        "channel_post", "edited_channel_post", "my_chat_member", "chat_member", "chat_join_request",
        "inline_query", "chosen_inline_result", "poll", "poll_answer", "message_reaction",
        "message_reaction_count", "shipping_query", "pre_checkout_query", "business_connection",
    )},
}


def parse_update(data: Mapping[str, Any]) -> list[IncomingMessage]:
    update_id = data.get("update_id")
    if not isinstance(update_id, int):
        raise WebhookRejected(400, "an update needs an integer update_id")
    kind = next((k for k in data if k != "update_id"), None)
    handler = UPDATES.get(str(kind))
    if handler is None:
        logger.info("telegram: ignoring update %s of unknown kind %r", update_id, kind)
        return []
    return handler(update_id, data[kind])


# -- outbound --------------------------------------------------------------------------------

def _callback_data(button: Button) -> str:
    if button.payload and len(button.payload.encode()) <= CALLBACK_DATA_BYTES:
        return button.payload
    # Too long for Telegram: the title comes back instead, and the model reads it as text.
    return button.title.encode()[:CALLBACK_DATA_BYTES].decode(errors="ignore")


def plan(message: OutgoingMessage) -> list[tuple[str, dict[str, Any]]]:
    """The Bot API calls for one reply, in order, without the chat_id."""
    text = message.text.strip()
    calls: list[tuple[str, dict[str, Any]]] = []
    if message.image and len(text) <= CAPTION_LIMIT:
        calls.append(("sendPhoto", {"photo": message.image, **({"caption": text} if text else {})}))
    else:
        pieces = split_text(text, TEXT_LIMIT) or (["Please choose:"] if message.buttons else [])
        calls.extend(("sendMessage", {"text": piece}) for piece in pieces)
        if message.image:
            calls.append(("sendPhoto", {"photo": message.image}))
    if message.buttons and calls:
        # One button a row: titles stay readable on a phone.
        calls[-1][1]["reply_markup"] = {"inline_keyboard": [
            [{"text": b.title, "callback_data": _callback_data(b)}] for b in message.buttons]}
    return calls


@dataclass(frozen=True)
class BotApi:
    """POSTs to the Bot API; the token is part of the URL, so it never appears in errors."""

    api_url: str
    token: str
    http: HttpClient

    async def call(self, method: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        answer = await self.http.request_json("POST", f"{self.api_url.rstrip('/')}/bot{self.token}/{method}",
                                              json=dict(body))
        return answer.status, answer.body if not isinstance(answer.body, str) else answer.body[:200]

    def readable(self, error: ApiUnreachable) -> str:
        # The bot token is part of the URL: it must not reach logs or the console.
        return str(error).replace(self.token, "<token>") if self.token else str(error)

    async def send(self, method: str, body: Mapping[str, Any]) -> SendResult:
        try:
            status, answer = await self.call(method, body)
        except ApiUnreachable as error:
            return SendResult.retry(f"Telegram API {self.readable(error)}")
        answer = answer if isinstance(answer, dict) else {"description": answer}
        if 200 <= status < 300 and answer.get("ok") is not False:
            result = answer.get("result") or {}
            found = result.get("message_id") if isinstance(result, dict) else None
            # A message_id is only unique within its chat.
            return SendResult.sent(f"{body.get('chat_id')}:{found}" if found is not None else None)
        readable = f"Telegram API {answer.get('error_code') or status}: {answer.get('description') or 'error'}"
        if status == 429 or status >= 500:
            parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
            after = parameters.get("retry_after")
            return SendResult.retry(readable, after=float(after) if isinstance(after, (int, float)) else None)
        # 403 "bot was blocked by the user", 400 "chat not found": retrying will not help.
        return SendResult.failed(readable)

    async def answer_callback_query(self, callback_query_id: str) -> None:
        """Stop the pressed button's spinner. Best effort: the reply matters, not this; a
        query answered already (a retried or second reply) is refused by Telegram, harmlessly."""
        try:
            status, answer = await self.call("answerCallbackQuery", {"callback_query_id": callback_query_id})
        except ApiUnreachable as error:
            logger.info("telegram: callback query %s not answered: %s", callback_query_id, self.readable(error))
            return
        if not 200 <= status < 300:
            logger.info("telegram: callback query %s not answered: %s %s", callback_query_id, status, answer)


def missing_settings(settings: Settings) -> tuple[str, ...]:
    return tuple(name for name, value in (("TELEGRAM_BOT_TOKEN", settings.telegram_bot_token),
                                          ("TELEGRAM_SECRET_TOKEN", settings.telegram_secret_token)) if not value)


class TelegramChannel:
    name = NAME

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.secret_token = settings.telegram_secret_token
        self.api = BotApi(settings.telegram_api_url, settings.telegram_bot_token, http)
        self.missing_settings = missing_settings(settings)

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        return None

    def parse(self, request: WebhookRequest) -> list[IncomingMessage]:
        given = next((v for k, v in request.headers.items() if k.lower() == SECRET_HEADER), None)
        if not given:
            raise WebhookRejected(403, "missing X-Telegram-Bot-Api-Secret-Token header")
        if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
            raise WebhookRejected(403, "X-Telegram-Bot-Api-Secret-Token does not match")
        return parse_update(decode_json_object(request.body))

    async def send(self, delivery: Delivery) -> SendResult:
        calls = plan(delivery.message)
        if not calls:
            return SendResult.failed("nothing Telegram can show (no text, image or buttons)")
        if delivery.message.thread_id and delivery.parts_sent == 0:
            # The reply to a pressed button: first stop its spinner, then answer in the chat.
            await self.api.answer_callback_query(delivery.message.thread_id)
        chat = delivery.message.recipient_id
        return await send_parts(delivery, calls, lambda call: self.api.send(call[0], {"chat_id": chat, **call[1]}))


async def set_webhook(settings: Settings, public_url: str) -> dict[str, Any]:
    """Register `{public_url}/webhooks/telegram/webhook` with our secret; Telegram's answer."""
    if missing := missing_settings(settings):
        return {"ok": False, "description": f"set {', '.join(missing)} first"}
    http = HttpClient(settings.http_timeout)
    try:
        _, answer = await BotApi(settings.telegram_api_url, settings.telegram_bot_token, http).call("setWebhook", {
            "url": f"{public_url.rstrip('/')}/webhooks/{NAME}/webhook",
            "secret_token": settings.telegram_secret_token,
            "allowed_updates": ALLOWED_UPDATES,
        })
    except ApiUnreachable as error:
        reason = str(error).replace(settings.telegram_bot_token, "<token>")
        return {"ok": False, "description": f"Telegram API {reason}"}
    finally:
        await http.close()
    return answer if isinstance(answer, dict) else {"ok": False, "description": str(answer)}


def build(settings: Settings, http: HttpClient, bus: Bus) -> TelegramChannel:
    return TelegramChannel(settings, http)
