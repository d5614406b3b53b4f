"""Twitter/X through the Account Activity API: DMs and @mentions in; DMs and reply tweets out.

Webhooks are signed with the app's consumer secret: the CRC check (GET ?crc_token=) and
every POST (`x-twitter-webhooks-signature`) are HMAC-SHA256, base64, "sha256=" prefixed.
X fixes both formulas, so the CRC answer to a token is the signature of a body with the
same bytes: the CRC signs only what a token can be, never anything a body can be.
Replies use API v2 with the brand's OAuth 2.0 user token: a DM by participant id, or one
reply tweet under the customer's tweet. v2 DMs have no quick replies, so buttons become a
"Reply with: A / B" line the customer answers in words.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.bus import Bus
from bot.http import ApiUnreachable, HttpClient, retry_after as retry_after_header
from bot.messages import Attachment, IncomingMessage, OutgoingMessage, StatusUpdate
from bot.settings import Settings
from channels.base import Delivery, HandshakeResponse, SendResult, WebhookRejected, WebhookRequest, send_parts
from channels.rest import decode_json_object
from channels.text import split_text
from channels.untrusted_json import array, name, obj

logger = logging.getLogger(__name__)

NAME = "twitter"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
DM_LIMIT = 10_000
TWEET_LIMIT = 280
MEDIA_KINDS = {"photo": "image", "video": "video", "animated_gif": "video"}
LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s*")
URL = re.compile(r"https?://\S+")
# What a CRC token can be: X sends a short string of URL-safe (base64) characters. None of
# them is "{", with which every webhook body starts, so no CRC answer is ever the signature
# of a body anyone could deliver (anyone may ask for a CRC answer).
CRC_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~-]+")
CRC_TOKEN_MAX = 256
# Keys of the envelope that are not events.
ENVELOPE = {"for_user_id", "users", "apps", "is_blocked_by", "user_has_blocked", "source", "target"}

Parsed = IncomingMessage | StatusUpdate


def signature(secret: str, message: bytes) -> str:
    """X's webhook signature: "sha256=" + base64(HMAC-SHA256(consumer secret, message))."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class _Batch:
    """What an event handler may look at besides its own event."""

    brand_ids: frozenset[str]
    users: Mapping[str, Any]


# -- inbound: one small pure function per event kind ---------------------------------------

def _direct_message(event: dict, batch: _Batch) -> list[Parsed]:
    create = obj(event.get("message_create"))
    sender = str(create.get("sender_id") or "")
    if event.get("type") != "message_create" or not sender or not event.get("id"):
        return []
    if sender in batch.brand_ids:
        return []  # the echo of our own DM
    data = obj(create.get("message_data"))
    text, attachments = str(data.get("text") or ""), ()
    attachment = obj(data.get("attachment"))
    if attachment.get("type") == "media" and isinstance(attachment.get("media"), dict):
        attachments = (_attachment(attachment["media"]),)
        text = _without_links(text, [attachment["media"]])
    quick = obj(data.get("quick_reply_response"))
    metadata = quick.get("metadata") if quick.get("type") == "options" else None
    user = obj(batch.users.get(sender))
    return [IncomingMessage(
        channel=NAME, sender_id=sender, text=text.strip(), message_id=str(event["id"]),
        sender_name=name(user.get("name")), attachments=attachments,
        payload=metadata if isinstance(metadata, str) and metadata.startswith("/") else None,
        metadata=_profile(user),
    )]


def _tweet(tweet: dict, batch: _Batch) -> list[Parsed]:
    user = obj(tweet.get("user"))
    author, tweet_id = str(user.get("id_str") or ""), str(tweet.get("id_str") or "")
    if not author or not tweet_id or author in batch.brand_ids or "retweeted_status" in tweet:
        return []  # our own tweets, and retweets, are not questions
    full = obj(tweet.get("extended_tweet")) or tweet
    entities = obj(full.get("entities"))
    mentioned = {str(m.get("id_str")) for m in array(entities.get("user_mentions")) if isinstance(m, dict)}
    if not (batch.brand_ids & (mentioned | {str(tweet.get("in_reply_to_user_id_str"))})):
        return []  # a tweet that does not address the brand
    media = [m for m in array((obj(full.get("extended_entities")) or entities).get("media")) if isinstance(m, dict)]
    text = _without_links(str(full.get("full_text") or tweet.get("text") or ""), media)
    return [IncomingMessage(
        channel=NAME, sender_id=author, text=LEADING_MENTIONS.sub("", text).strip(),
        message_id=f"tweet-{tweet_id}", sender_name=name(user.get("name")),
        attachments=tuple(_attachment(m) for m in media[:1]), is_public=True, thread_id=tweet_id,
        metadata=_profile(user),
    )]


def _read_receipt(event: dict, batch: _Batch) -> list[Parsed]:
    reader, last_read = str(event.get("sender_id") or ""), event.get("last_read_event_id")
    if reader in batch.brand_ids or not last_read:
        return []  # the brand reading the customer's messages
    return [StatusUpdate(channel=NAME, platform_message_id=str(last_read), status="read")]


def _ignore(event: Any, batch: _Batch) -> list[Parsed]:
    return []


EVENTS: dict[str, Callable[[Any, _Batch], list[Parsed]]] = {
    "direct_message_events": _direct_message,
    "tweet_create_events": _tweet,
    "direct_message_mark_read_events": _read_receipt,
    **{kind: _ignore for kind in (
        "favorite_events", "follow_events", "unfollow_events", "block_events", "unblock_events",
        "mute_events", "unmute_events", "tweet_delete_events", "user_event",
        "direct_message_indicate_typing_events",
    )},
}


def _attachment(media: Mapping[str, Any]) -> Attachment:
    url = media.get("media_url_https")
    return Attachment(MEDIA_KINDS.get(str(media.get("type")), "file"), url if isinstance(url, str) and url else None)


def _without_links(text: str, media: Any) -> str:
    """The text without the t.co links X appends for attached media."""
    for item in media:
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
            text = text.replace(item["url"], "")
    return text


def _profile(user: Mapping[str, Any]) -> dict[str, Any]:
    return {"screen_name": user["screen_name"]} if user.get("screen_name") else {}


def parse_events(data: Mapping[str, Any], brand_user_id: str) -> list[Parsed]:
    """Every event of one webhook delivery, in order; unknown kinds are logged and skipped."""
    batch = _Batch(frozenset(filter(None, (brand_user_id, str(data.get("for_user_id") or "")))),
                   data.get("users") if isinstance(data.get("users"), dict) else {})
    parsed: list[Parsed] = []
    for kind, events in data.items():
        if kind in ENVELOPE:
            continue
        handler = EVENTS.get(kind)
        if handler is None:
            logger.info("twitter: ignoring unknown event kind %r", kind)
            continue
        for event in events if isinstance(events, list) else [events]:
            if isinstance(event, dict):
                parsed.extend(handler(event, batch))
    return parsed


# -- outbound --------------------------------------------------------------------------------

def tweet_weight(text: str) -> int:
    """Length as X counts it: a link is 23; Latin script and punctuation 1; CJK and emoji 2."""
    weight = 0
    for piece in URL.split(text):
        weight += sum(1 if ord(ch) <= 0x10FF or 0x2000 <= ord(ch) <= 0x200D or 0x2010 <= ord(ch) <= 0x201F
                      or 0x2032 <= ord(ch) <= 0x2037 else 2 for ch in piece)
    return weight + 23 * len(URL.findall(text))


def fit_tweet(text: str, limit: int = TWEET_LIMIT) -> str:
    """One tweet: the text if it fits, else cut at a word boundary and ended with "…"."""
    text = " ".join(text.split())
    if tweet_weight(text) <= limit:
        return text
    kept = ""
    for word in text.split(" "):
        candidate = f"{kept} {word}" if kept else word
        if tweet_weight(candidate + "…") > limit:
            break
        kept = candidate
    if not kept:  # a single word longer than a tweet
        while text and tweet_weight(text + "…") > limit:
            text = text[:-1]
        kept = text
    return kept.rstrip(" ,;:-") + "…"


def dm_text(message: OutgoingMessage) -> str:
    """v2 DMs carry text only: an image goes as its link, buttons as a line of choices."""
    parts = [message.text.strip()]
    if message.image:
        parts.append(message.image)
    if message.buttons:
        parts.append("Reply with: " + " / ".join(b.title for b in message.buttons))
    return "\n\n".join(p for p in parts if p)


def error_text(status: int, body: Any) -> str:
    """A readable error from X's bodies: v2 problems {title, detail} or {errors: [{message, code}]}."""
    found: list[str] = []
    if isinstance(body, dict):
        found.append(str(body.get("detail") or body.get("title") or ""))
        for error in body.get("errors") or ():
            if isinstance(error, dict) and error.get("message"):
                code = f" (code {error['code']})" if error.get("code") is not None else ""
                found.append(f"{error['message']}{code}")
    elif isinstance(body, str):
        found.append(body[:200])
    readable = "; ".join(dict.fromkeys(f for f in found if f))
    return f"X API {status}: {readable}" if readable else f"X API {status}"


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait after a 429: Retry-After (seconds or an HTTP-date), else the
    x-rate-limit-reset epoch."""
    found = retry_after_header(headers.get("Retry-After"), now)
    if found is not None:
        return found
    try:
        return max(0.0, float(headers["x-rate-limit-reset"]) - now)
    except (KeyError, ValueError):
        return None


class TwitterChannel:
    name = NAME

    def __init__(self, settings: Settings, http: HttpClient, clock: Callable[[], float] = time.time) -> None:
        self.consumer_secret = settings.twitter_consumer_secret
        self.access_token = settings.twitter_access_token
        self.user_id = settings.twitter_user_id
        self.api_url = settings.twitter_api_url.rstrip("/")
        self.http = http
        self.clock = clock
        self.missing_settings = tuple(name for name, value in (
            ("TWITTER_CONSUMER_SECRET", self.consumer_secret), ("TWITTER_ACCESS_TOKEN", self.access_token),
            ("TWITTER_USER_ID", self.user_id)) if not value)

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        token = request.query.get("crc_token")
        if not token:
            raise WebhookRejected(400, "missing crc_token")
        if len(token) > CRC_TOKEN_MAX or not CRC_TOKEN.fullmatch(token):
            raise WebhookRejected(400, f"a crc_token is at most {CRC_TOKEN_MAX} letters, digits or +/=_.~- "
                                       "(X's tokens are base64)")
        return HandshakeResponse(200, json.dumps({"response_token": signature(self.consumer_secret, token.encode())}),
                                 content_type="application/json")

    def parse(self, request: WebhookRequest) -> list[Parsed]:
        given = next((v for k, v in request.headers.items() if k.lower() == SIGNATURE_HEADER), None)
        if not given:
            raise WebhookRejected(403, f"missing {SIGNATURE_HEADER} header")
        if not request.body.lstrip().startswith(b"{"):
            # Checked before the signature: whatever the CRC check signs fails here, so a
            # CRC answer can never be replayed as a delivery's signature.
            raise WebhookRejected(400, "the body must be a JSON object")
        if not hmac.compare_digest(given.encode(), signature(self.consumer_secret, request.body).encode()):
            raise WebhookRejected(403, f"{SIGNATURE_HEADER} does not match the body")
        return parse_events(decode_json_object(request.body), self.user_id)

    async def send(self, delivery: Delivery) -> SendResult:
        message = delivery.message
        if (message.custom or {}).get("moderation") == "hide":
            if not message.thread_id:
                return SendResult.failed("no tweet to hide")
            return await self._call("PUT", f"/2/tweets/{quote(message.thread_id, safe='')}/hidden",
                                    {"hidden": True}, "")
        if message.is_public:
            text = fit_tweet(message.text)
            if not message.thread_id or not text:
                return SendResult.failed("a public reply needs a text and the tweet it answers")
            return await self._call("POST", "/2/tweets",
                                    {"text": text, "reply": {"in_reply_to_tweet_id": message.thread_id}}, "id")
        parts = split_text(dm_text(message), DM_LIMIT)
        if not parts:
            return SendResult.failed("nothing X can show in a DM (no text, image or buttons)")
        path = f"/2/dm_conversations/with/{quote(message.recipient_id, safe='')}/messages"
        return await send_parts(delivery, parts, lambda part: self._call("POST", path, {"text": part}, "dm_event_id"))

    async def _call(self, method: str, path: str, body: dict[str, Any], id_field: str) -> SendResult:
        try:
            answer = await self.http.request_json(method, self.api_url + path, json=body,
                                                  headers={"Authorization": f"Bearer {self.access_token}"})
        except ApiUnreachable as error:
            return SendResult.retry(f"X API {error}")
        status, headers, answer = answer.status, answer.headers, answer.body
        if 200 <= status < 300:
            data = answer.get("data") if isinstance(answer, dict) else None
            found = data.get(id_field) if isinstance(data, dict) and id_field else None
            return SendResult.sent(str(found) if found is not None else None)
        if status == 429:
            return SendResult.retry(error_text(status, answer), after=retry_after(headers, self.clock()))
        if status >= 500:
            return SendResult.retry(error_text(status, answer))
        return SendResult.failed(error_text(status, answer))


def build(settings: Settings, http: HttpClient, bus: Bus) -> TwitterChannel:
    return TwitterChannel(settings, http)
