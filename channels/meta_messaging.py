"""What the Facebook and Instagram channels share: one webhook shape, one send API.

Both webhooks are `{"object", "entry": [{"id", "messaging": [...], "changes": [...]}]}`:
Messenger and Instagram DMs are the same `messaging` events, parsed here once; comments
arrive as `changes` whose field and shape differ, so each platform module hands in its
own change parsers in a `Platform`. Every event of every entry is read (Meta batches
updates; Rasa's connector reads only the first).

Out, both use `/me/messages` for DMs and for the one private reply a comment allows;
public replies and hiding go to the comment's own edges, named in the `Platform`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bot.http import HttpClient
from bot.messages import Attachment, Button, IncomingMessage, OutgoingMessage, StatusUpdate, utcnow
from bot.settings import Settings
from channels import meta
from channels.base import Delivery, HandshakeResponse, SendResult, WebhookRequest, send_parts
from channels.rest import decode_json_object
from channels.text import split_text

logger = logging.getLogger(__name__)

TEXT_LIMIT = 2000
QUICK_REPLIES_LIMIT = 13
QUICK_REPLY_TITLE_LIMIT = 20
QUICK_REPLY_PAYLOAD_LIMIT = 1000
# Attachment types as Meta names them → our kinds (bot/router.py names the common ones politely).
ATTACHMENT_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "file", "location": "location",
                    "fallback": "link", "share": "share", "story_mention": "story_mention", "ig_reel": "video",
                    "reel": "video"}

Parsed = IncomingMessage | StatusUpdate


@dataclass(frozen=True)
class Entry:
    """What an event parser may look at besides its own event."""

    channel: str
    # The page or Instagram account itself: its own messages and comments are never answered.
    own_ids: frozenset[str]


Parser = Callable[[dict, Entry], list[Parsed]]


# -- inbound messaging events: one small pure function per kind ---------------------------

def _message(event: dict, entry: Entry) -> list[Parsed]:
    message = obj(event.get("message"))
    sender, mid = _sender(event), str(message.get("mid") or "")
    if message.get("is_echo") or message.get("is_deleted") or not sender or not mid or sender in entry.own_ids:
        return []  # our own sends echoed back, an unsent message, or nothing to answer
    attachments, metadata = _attachments(message.get("attachments"))
    if message.get("is_unsupported") and not attachments:
        attachments = (Attachment("unsupported"),)  # Instagram: a GIF or sticker it cannot pass on
    story = obj(obj(message.get("reply_to")).get("story"))
    if story:
        metadata["story"] = {k: str(story[k]) for k in ("id", "url") if story.get(k)}
    quick = obj(message.get("quick_reply"))
    return [IncomingMessage(
        channel=entry.channel, sender_id=sender, text=str(message.get("text") or "").strip(), message_id=mid,
        payload=_rasa_payload(quick.get("payload")), attachments=attachments, metadata=metadata,
    )]


def _postback(event: dict, entry: Entry) -> list[Parsed]:
    postback, sender = obj(event.get("postback")), _sender(event)
    if not sender or sender in entry.own_ids:
        return []
    # Postbacks carry a mid since Graph v11; older ones are keyed by sender and time.
    mid = str(postback.get("mid") or f"postback-{sender}-{event.get('timestamp')}")
    title, payload = str(postback.get("title") or ""), str(postback.get("payload") or "")
    return [IncomingMessage(channel=entry.channel, sender_id=sender, text=(title or payload).strip(),
                            message_id=mid, payload=_rasa_payload(payload))]


def _delivery(event: dict, entry: Entry) -> list[Parsed]:
    mids = obj(event.get("delivery")).get("mids")
    return [StatusUpdate(channel=entry.channel, platform_message_id=str(mid), status="delivered")
            for mid in (mids if isinstance(mids, list) else ()) if mid]


def _read(event: dict, entry: Entry) -> list[Parsed]:
    # Instagram names the message read; Messenger sends only a watermark (a time), which
    # matches no message id, so it is acknowledged and left.
    mid = obj(event.get("read")).get("mid")
    return [StatusUpdate(channel=entry.channel, platform_message_id=str(mid), status="read")] if mid else []


def _ignore(event: dict, entry: Entry) -> list[Parsed]:
    return []


MESSAGING_EVENTS: dict[str, Parser] = {
    "message": _message,
    "postback": _postback,
    "delivery": _delivery,
    "read": _read,
    **{kind: _ignore for kind in (
        "reaction", "referral", "optin", "account_linking", "message_edit", "pass_thread_control",
        "take_thread_control", "request_thread_control", "app_roles", "policy_enforcement", "response_feedback",
        "game_play", "messaging_feedback",
    )},
}


def obj(value: Any) -> dict:
    """`value` when it is a JSON object, else an empty one: a field of an unexpected shape
    is skipped, never a 500 that Meta would redeliver for days."""
    return value if isinstance(value, dict) else {}


def _sender(event: dict) -> str:
    # An id is a string or a number; anything else ("[{...}]" once str()-ed) is no sender.
    sender = obj(event.get("sender")).get("id")
    return str(sender) if isinstance(sender, (str, int)) and not isinstance(sender, bool) else ""


def _rasa_payload(payload: Any) -> str | None:
    """A button's payload goes to Rasa as is when it is a Rasa payload ("/intent{...}")."""
    return payload if isinstance(payload, str) and payload.startswith("/") else None


def _attachments(items: Any) -> tuple[tuple[Attachment, ...], dict[str, Any]]:
    attachments: list[Attachment] = []
    metadata: dict[str, Any] = {}
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        payload = obj(item.get("payload"))
        kind = ATTACHMENT_KINDS.get(str(item.get("type")), "file")
        if kind == "image" and payload.get("sticker_id"):
            kind = "sticker"  # Messenger's stickers (and the thumbs-up) are images with a sticker_id
            metadata["sticker_id"] = str(payload["sticker_id"])
        if kind == "location" and isinstance(payload.get("coordinates"), dict):
            metadata["location"] = payload["coordinates"]
        attachments.append(Attachment(kind, str(payload["url"]) if payload.get("url") else None))
    return tuple(attachments), metadata


# -- the envelope -----------------------------------------------------------------------

@dataclass(frozen=True)
class Platform:
    """What Facebook and Instagram do differently; everything else is shared."""

    name: str
    webhook_object: str  # "page" | "instagram"
    changes: Mapping[str, Parser]  # change field → parser (comments)
    comment_reply_edge: str  # POST /{comment_id}/<edge> {"message"} answers a comment in public
    hide_body: Mapping[str, Any]  # POST /{comment_id} with this hides a comment
    account_setting: str  # the setting naming the page or account itself
    public_limit: int


def parse_webhook(data: Mapping[str, Any], platform: Platform, account_id: str) -> list[Parsed]:
    """Every event of every entry, in order; unknown objects, events and fields are logged and skipped."""
    if data.get("object") != platform.webhook_object:
        logger.info("%s: ignoring a webhook for object %r", platform.name, data.get("object"))
        return []
    base = Entry(platform.name, frozenset(filter(None, (account_id,))))
    parsed: list[Parsed] = []
    for item in _dicts(data.get("entry")):
        # The entry's id is the page or account the events are for: ours.
        entry = replace(base, own_ids=base.own_ids | {str(item.get("id") or "")} - {""})
        for event in _dicts(item.get("messaging")):
            kind = next((k for k in event if k in MESSAGING_EVENTS), None)
            if kind is None:
                logger.info("%s: ignoring a messaging event with keys %s", platform.name, sorted(event))
                continue
            parsed.extend(MESSAGING_EVENTS[kind](event, entry))
        for change in _dicts(item.get("changes")):
            name, value = str(change.get("field")), change.get("value")
            handler = platform.changes.get(name)
            if handler is None or not isinstance(value, dict):
                logger.info("%s: ignoring a change of field %r", platform.name, name)
                continue
            parsed.extend(handler(value, entry))
        if standby := _dicts(item.get("standby")):
            logger.debug("%s: %d standby event(s) ignored: another app owns those threads", platform.name,
                         len(standby))
    return parsed


def _dicts(items: Any) -> list[dict]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


# -- outbound ---------------------------------------------------------------------------

class WindowClosed(Exception):
    """Meta would refuse this send: the messaging window is closed for this author."""


def messaging_type(author: str, last_customer_message: datetime | None, now: datetime) -> dict[str, str]:
    """How a DM may go now: a normal response within 24 hours of the customer's last message;
    a person's reply up to 7 days with the HUMAN_AGENT tag; otherwise not at all."""
    if meta.within(meta.STANDARD_WINDOW, last_customer_message, now):
        return {"messaging_type": "RESPONSE"}
    if author != "agent":
        raise WindowClosed("outside Meta's 24-hour messaging window: the bot may not write until the customer does")
    if meta.within(meta.HUMAN_AGENT_WINDOW, last_customer_message, now):
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    raise WindowClosed("more than 7 days since the customer's last message: Meta allows no reply, "
                       "not even with the HUMAN_AGENT tag")


def quick_replies(buttons: tuple[Button, ...]) -> list[dict[str, str]]:
    """Buttons as Meta's quick replies: at most 13, titles cut to 20 characters."""
    return [{"content_type": "text", "title": _cut(b.title, QUICK_REPLY_TITLE_LIMIT),
             "payload": (b.payload or b.title)[:QUICK_REPLY_PAYLOAD_LIMIT]}
            for b in buttons[:QUICK_REPLIES_LIMIT]]


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def dm_messages(message: OutgoingMessage) -> list[dict[str, Any]]:
    """The `message` objects of one reply: its text in pieces of 2,000 characters, then its
    image; the quick replies ride on the last one so they stay on screen."""
    messages: list[dict[str, Any]] = [{"text": part} for part in split_text(message.text, TEXT_LIMIT)]
    if message.image:
        messages.append({"attachment": {"type": "image", "payload": {"url": message.image, "is_reusable": True}}})
    if messages and message.buttons:
        messages[-1]["quick_replies"] = quick_replies(message.buttons)
    return messages


def private_reply_message(message: OutgoingMessage) -> dict[str, Any] | None:
    """A comment allows exactly one private message, without media: the text (and an image's
    link) cut to 2,000 characters, with the quick replies."""
    text = "\n\n".join(p for p in (message.text.strip(), message.image or "") if p)
    if not text:
        return None
    if len(text) > TEXT_LIMIT:
        text = split_text(text, TEXT_LIMIT - 1)[0] + "…"
    body: dict[str, Any] = {"text": text}
    if message.buttons:
        body["quick_replies"] = quick_replies(message.buttons)
    return body


class MetaChannel:
    """A Messenger-style channel; `platform` says which one."""

    def __init__(self, platform: Platform, settings: Settings, http: HttpClient,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.platform = platform
        self.name = platform.name
        self.app_secret = settings.meta_app_secret
        self.verify_token = settings.meta_verify_token
        self.account_id = str(getattr(settings, platform.account_setting.lower()))
        self.graph = meta.GraphApi(settings.meta_graph_url, settings.meta_page_access_token, http)
        self.clock = clock
        self.missing_settings = tuple(name for name, value in (
            ("META_APP_SECRET", self.app_secret), ("META_VERIFY_TOKEN", self.verify_token),
            ("META_PAGE_ACCESS_TOKEN", settings.meta_page_access_token),
            (platform.account_setting, self.account_id)) if not value)

    def handshake(self, request: WebhookRequest) -> HandshakeResponse:
        return meta.handshake(self.verify_token, request)

    def parse(self, request: WebhookRequest) -> list[Parsed]:
        meta.verify_signature(self.app_secret, request)  # before the body is even decoded
        return parse_webhook(decode_json_object(request.body), self.platform, self.account_id)

    async def send(self, delivery: Delivery) -> SendResult:
        message = delivery.message
        custom = message.custom or {}
        if custom.get("moderation") == "hide":
            if not message.thread_id:
                return SendResult.failed("no comment to hide")
            return await self.graph.post(f"/{quote(message.thread_id, safe='')}", self.platform.hide_body)
        if custom.get("private_reply"):
            return await self._private_reply(delivery)
        if message.is_public:
            return await self._public_reply(message)
        return await self._direct(delivery)

    async def _public_reply(self, message: OutgoingMessage) -> SendResult:
        text = message.text.strip()
        if not message.thread_id or not text:
            return SendResult.failed("a public reply needs a text and the comment it answers")
        if len(text) > self.platform.public_limit:
            return SendResult.failed(f"a public reply is limited to {self.platform.public_limit} characters "
                                     f"on {self.name}; this one has {len(text)}")
        path = f"/{quote(message.thread_id, safe='')}/{self.platform.comment_reply_edge}"
        return await self.graph.post(path, {"message": text}, id_field="id")

    async def _private_reply(self, delivery: Delivery) -> SendResult:
        message = delivery.message
        body = private_reply_message(message)
        if not message.thread_id or body is None:
            return SendResult.failed("a private reply needs a text and the comment it answers")
        # The window runs from the comment (the customer's DMs do not move it). The bot's own
        # private reply leaves at once and names no time; an agent's carries the comment's.
        commented = _timestamp((message.custom or {}).get("comment_at"))
        if commented is not None and not meta.within(meta.PRIVATE_REPLY_WINDOW, commented, self.clock()):
            return SendResult.failed("a comment may be answered privately only within 7 days")
        return await self.graph.post("/me/messages", {"recipient": {"comment_id": message.thread_id},
                                                      "message": body})

    async def _direct(self, delivery: Delivery) -> SendResult:
        message = delivery.message
        try:
            how = messaging_type(message.author, delivery.customer_last_message_at, self.clock())
        except WindowClosed as closed:
            return SendResult.failed(str(closed))
        messages = dm_messages(message)
        if not messages:
            return SendResult.failed(f"nothing {self.name} can show (no text or image)")
        return await send_parts(delivery, messages, lambda part: self.graph.post(
            "/me/messages", {"recipient": {"id": message.recipient_id}, **how, "message": part}))


def _timestamp(value: Any) -> datetime | None:
    """An ISO time carried in a reply's `custom`, or None."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
