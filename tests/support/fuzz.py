"""Hostile bodies for every way in, shared by `make fuzz` (bench/fuzz.py) and the test suite
(tests/test_fuzz_webhooks.py).

A generator is seeded, so a run can be repeated. Most bodies start from the real payloads
in tests/fixtures/<platform>/ and are damaged there (a field of the wrong type, a key
removed, an unknown one added, an event renamed, a string made huge, empty, an emoji, an
unpaired surrogate or a NUL, a number made huge); others are built from nothing, or are
broken as bytes (truncated, invalid UTF-8, nested thousands deep). Platform bodies carry a
valid signature over whatever they became, so the parser behind the check is reached.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from channels import meta, twitter
from tests.support.payloads import FIXTURES, fixture_names

# The secrets the fuzzed service is started with (bench/fuzz.py, tests/test_fuzz_webhooks.py).
META_APP_SECRET = "fuzz-meta-app-secret"
TWITTER_CONSUMER_SECRET = "fuzz-consumer-secret"
TELEGRAM_SECRET = "fuzz-telegram-secret"
PAGE_ID = "1234567890"
INSTAGRAM_ID = "17841400000000001"
PHONE_NUMBER_ID = "106540352242922"
TWITTER_USER_ID = "1503227405498351616"


def service_settings(fake_api_url: str) -> dict[str, str]:
    """Every channel configured with the secrets above, its API on the fake server, and the
    per-sender (and per-address) rate limits off so that the fuzzer's requests all reach
    the parsers instead of a 429."""
    return {
        "META_APP_SECRET": META_APP_SECRET, "META_VERIFY_TOKEN": "fuzz-verify-token",
        "META_PAGE_ACCESS_TOKEN": "fuzz-page-token", "META_PAGE_ID": PAGE_ID, "INSTAGRAM_ACCOUNT_ID": INSTAGRAM_ID,
        "META_GRAPH_URL": f"{fake_api_url}/v19.0",
        "WHATSAPP_ACCESS_TOKEN": "fuzz-whatsapp-token", "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "TWITTER_CONSUMER_SECRET": TWITTER_CONSUMER_SECRET, "TWITTER_ACCESS_TOKEN": "fuzz-x-token",
        "TWITTER_USER_ID": TWITTER_USER_ID, "TWITTER_API_URL": fake_api_url,
        "TELEGRAM_BOT_TOKEN": "123:fuzz-bot-token", "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": fake_api_url,
        "SOCKETIO_ENABLED": "true",
        "SENDER_RATE_PER_MINUTE": "0",
        # An address-based limit may exist (or come): off too. Settings ignore names they do not have.
        "ADDRESS_RATE_PER_MINUTE": "0",
        "OUTBOX_BACKOFF_BASE": "0.05", "OUTBOX_BACKOFF_MAX": "0.5",
    }


def _meta_headers(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": meta.signature(META_APP_SECRET, body)}


def _twitter_headers(body: bytes) -> dict[str, str]:
    return {"x-twitter-webhooks-signature": twitter.signature(TWITTER_CONSUMER_SECRET, body)}


def _telegram_headers(body: bytes) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


def _no_headers(body: bytes) -> dict[str, str]:
    return {}


def _fixtures(platform: str) -> list[Any]:
    return [json.loads((FIXTURES / platform / f"{name}.json").read_text()) for name in fixture_names(platform)]


def _rest_shapes() -> list[Any]:
    return [{"sender": "customer-1", "message": "what are your opening hours?", "message_id": "m-0"},
            {"sender": "customer-2", "message": "where is my order", "message_id": "m-1"},
            {"sender": "customer-3", "message": "/greet", "message_id": 42, "metadata": {"page": "/shop"}}]


def _webchat_shapes() -> list[Any]:
    return [{"type": "message", "client_id": "c-1", "text": "do you ship internationally?"},
            {"type": "postback", "client_id": "c-2", "title": "Track my order", "payload": "/track_order"}]


def _socketio_shapes() -> list[Any]:
    # The fixtures' {"event", "data"} become the packets' [event, data]; bot_uttered is ours to send.
    return [[f["event"], f["data"]] for f in _fixtures("socketio") if f["event"] != "bot_uttered"]


@dataclass(frozen=True)
class Target:
    """One way in: where bodies go, how they are signed, which real shapes they start from."""

    name: str
    kind: str  # "http" | "webchat" | "socketio"
    path: str
    headers: Callable[[bytes], dict[str, str]]
    shapes: Callable[[], list[Any]]


TARGETS: tuple[Target, ...] = (
    Target("facebook", "http", "/webhooks/facebook/webhook", _meta_headers, lambda: _fixtures("facebook")),
    Target("instagram", "http", "/webhooks/instagram/webhook", _meta_headers, lambda: _fixtures("instagram")),
    Target("whatsapp", "http", "/webhooks/whatsapp/webhook", _meta_headers, lambda: _fixtures("whatsapp")),
    Target("twitter", "http", "/webhooks/twitter/webhook", _twitter_headers, lambda: _fixtures("twitter")),
    Target("telegram", "http", "/webhooks/telegram/webhook", _telegram_headers, lambda: _fixtures("telegram")),
    Target("rest", "http", "/webhooks/rest/webhook", _no_headers, _rest_shapes),
    Target("webchat", "webchat", "/webhooks/webchat/ws", _no_headers, _webchat_shapes),
    Target("socketio", "socketio", "/socket.io/", _no_headers, _socketio_shapes),
)


# -- values ----------------------------------------------------------------------------------

EMOJI = "😀👍🏽👨‍👩‍👧‍👦🇳🇴❤️‍🔥"
ODD_STRINGS = ["", " ", "\n\t", "\u0000", "a\u0000b", "\ud800", "x\udfff", "\ufeff", "\u202eevil", "🤖" * 3,
               EMOJI, "/", "/greet", "/restart", '/inform{"order_id": "1"}', "/\u0000", "null", "0", "-1",
               "Ω≈ç√∫˜µ≤≥÷", "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ", "<script>alert(1)</script>", "' OR 1=1 --", "${jndi:x}",
               "%s%s%n", "../../etc/passwd", "\\", "@brand hello", "t.co/x https://t.co/abc"]
# Field names the platforms use, so that an added key is often one a parser looks for.
KNOWN_KEYS = ["message", "text", "body", "id", "mid", "from", "sender", "recipient", "entry", "changes",
              "messaging", "value", "field", "object", "type", "payload", "attachments", "quick_reply",
              "postback", "delivery", "read", "is_echo", "update_id", "chat", "callback_query", "data",
              "entities", "caption", "photo", "location", "contacts", "profile", "name", "statuses", "errors",
              "status", "metadata", "phone_number_id", "direct_message_events", "tweet_create_events",
              "message_create", "message_data", "sender_id", "user", "users", "id_str", "extended_tweet",
              "full_text", "user_mentions", "media", "for_user_id", "interactive", "button_reply", "list_reply",
              "button", "reply_markup", "inline_keyboard", "callback_data", "session_id", "customData",
              "message_id", "client_id", "title", "length", "offset", "reply_to", "story", "url", "comment_id",
              "post_id", "item", "verb", "username", "in_reply_to_user_id_str", "edited_message",
              "my_chat_member", "last_read_event_id", "wa_id", "is_bot", "first_name", "__proto__", "constructor"]
# Keys whose values identify a customer or a message: refreshed in most mutated bodies, so that
# thousands of them are thousands of conversations, not one conversation thousands long.
ID_KEYS = {"id", "mid", "sender_id", "from", "wa_id", "message_id", "update_id", "id_str", "comment_id",
           "session_id", "client_id", "sender"}
# The share of real payloads sent with new ids (see Generator.with_ids).
FRESH_IDS = 0.15
# Ids the service must keep recognising as its own, or it ignores the body too early.
KEEP_IDS = {PAGE_ID, INSTAGRAM_ID, PHONE_NUMBER_ID, TWITTER_USER_ID}


class Generator:
    """Bodies for one target, from a seed: `next()` is (raw bytes, headers)."""

    def __init__(self, target: Target, seed: int) -> None:
        self.target = target
        self.rng = random.Random(f"{target.name}:{seed}")
        self.shapes = target.shapes()
        self._serial = 0

    # -- one body ------------------------------------------------------------------------
    def next(self) -> tuple[bytes, dict[str, str]]:
        roll = self.rng.random()
        if roll < 0.45:
            body = self._dump(self.mutated())
        elif roll < 0.55:
            body = self._dump(self.with_ids(copy.deepcopy(self.rng.choice(self.shapes))))  # intact, as a control
        elif roll < 0.65:
            body = self._dump(self.value(depth=0))
        elif roll < 0.85:
            body = self.damaged_bytes(self._dump(self.mutated()))
        else:
            body = self.pathological()
        return body, self.headers(body)

    def headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": self.rng.choice(["application/json"] * 8 + ["text/plain", "application/x-www-form-urlencoded"])}
        signing = self.rng.random()
        if signing < 0.92:
            headers.update(self.target.headers(body))
        elif signing < 0.96:
            headers.update({k: v[:-2] + "00" for k, v in self.target.headers(body).items()})
        return headers

    def _dump(self, value: Any) -> bytes:
        # NaN and Infinity are what Python writes and reads; platforms never send them.
        return json.dumps(value, ensure_ascii=self.rng.random() < 0.5).encode("utf-8", "surrogatepass")

    # -- structure -----------------------------------------------------------------------
    def mutated(self) -> Any:
        data = self.with_ids(copy.deepcopy(self.rng.choice(self.shapes)))
        for _ in range(self.rng.choice([1, 1, 1, 2, 2, 3, 5])):
            data = self.mutate(data)
        return data

    def mutate(self, data: Any) -> Any:
        nodes = list(_containers(data))
        if not nodes:
            return self.value(depth=1)
        parent = self.rng.choice(nodes)
        keys = list(parent.keys()) if isinstance(parent, dict) else list(range(len(parent)))
        op = self.rng.random()
        if not keys or op < 0.15:  # an extra field or item
            if isinstance(parent, dict):
                parent[self.key()] = self.value(depth=1)
            else:
                parent.insert(self.rng.randint(0, len(parent)), self.value(depth=1))
            return data
        key = self.rng.choice(keys)
        if op < 0.55:  # a value of another type, or an odd one of the same type
            parent[key] = self.value(depth=1, like=parent[key])
        elif op < 0.7:  # a field missing
            del parent[key]
        elif op < 0.8 and isinstance(parent, dict):  # renamed: an event or field nobody declared
            parent[self.key()] = parent.pop(key)
        elif op < 0.88 and isinstance(parent[key], list) and parent[key]:  # a batch
            parent[key] = [copy.deepcopy(self.rng.choice(parent[key])) for _ in range(self.rng.randint(2, 12))]
            parent[key] = [self.fresh_ids(item) for item in parent[key]]
        elif op < 0.94:  # a subtree of another real payload grafted in
            parent[key] = copy.deepcopy(self.rng.choice(list(_containers(self.rng.choice(self.shapes))) or [None]))
        else:  # the whole body nested under itself
            return {self.key(): data} if self.rng.random() < 0.5 else [data]
        return data

    def with_ids(self, data: Any) -> Any:
        """Mostly the real payload's own ids: a body the parser accepts is then a redelivery,
        stored once and answered once, so that the model's work stays a fraction of the
        bodies sent; some get new ids, and are new messages all the way to the reply."""
        return self.fresh_ids(data) if self.rng.random() < FRESH_IDS else data

    def fresh_ids(self, data: Any) -> Any:
        """The body with its customer and message ids replaced by new ones of the same type."""
        if isinstance(data, dict):
            for key, value in data.items():
                if key in ID_KEYS and not isinstance(value, (dict, list)) and str(value) not in KEEP_IDS:
                    data[key] = self._fresh_id(value)
                else:
                    self.fresh_ids(value)
        elif isinstance(data, list):
            for item in data:
                self.fresh_ids(item)
        return data

    def _fresh_id(self, value: Any) -> Any:
        self._serial += 1
        number = self.rng.randint(10**9, 10**12) * 1000 + self._serial % 1000
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return number
        if isinstance(value, str) and value.isdigit():
            return str(number)
        return f"{(value if isinstance(value, str) else 'id')[:12]}-fz{number}"

    def key(self) -> str:
        roll = self.rng.random()
        if roll < 0.7:
            return self.rng.choice(KNOWN_KEYS)
        if roll < 0.85:
            return self.string(short=True)
        return self.rng.choice(["", " ", "\u0000", "\ud83d", EMOJI, "x" * 10_000])

    def value(self, depth: int, like: Any = None) -> Any:
        roll = self.rng.random()
        if like is not None and roll < 0.3:
            return self.odd_like(like)
        if depth > 4 or roll < 0.55:
            return self.scalar()
        if roll < 0.75:
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        return {self.key(): self.value(depth + 1) for _ in range(self.rng.randint(0, 4))}

    def odd_like(self, like: Any) -> Any:
        """A value of the same type as `like`, at its edges."""
        if isinstance(like, bool):
            return not like
        if isinstance(like, int):
            return self.number()
        if isinstance(like, float):
            return self.rng.choice([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 5e-324])
        if isinstance(like, str):
            return self.string()
        if isinstance(like, list):
            return [] if self.rng.random() < 0.5 else [self.value(3) for _ in range(self.rng.randint(1, 3))]
        if isinstance(like, dict):
            return {} if self.rng.random() < 0.5 else {self.key(): self.value(3)}
        return self.scalar()

    def scalar(self) -> Any:
        roll = self.rng.random()
        if roll < 0.1:
            return None
        if roll < 0.18:
            return self.rng.choice([True, False])
        if roll < 0.4:
            return self.number()
        if roll < 0.48:
            return self.rng.choice([float("nan"), float("inf"), 1e308, -1.5, 0.1])
        return self.string()

    def number(self) -> int:
        return self.rng.choice([0, -1, 1, 2**31, 2**53 + 1, 2**63, -2**63 - 1, 2**64, 10**100, -10**300,
                                int("9" * self.rng.randint(400, 4300))])

    def string(self, short: bool = False) -> str:
        roll = self.rng.random()
        if roll < 0.45:
            return self.rng.choice(ODD_STRINGS)
        if roll < 0.7 or short:
            alphabet = "abc xyz?!.,0123456789éßçø中文日本語العربية" + EMOJI + "\u0000\ud800\u200b"
            return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(1, 40)))
        if roll < 0.9:  # around the 4,096-character message limit, and far past it
            return self.rng.choice(["a", "😀", "ab "]) * self.rng.choice([1000, 2048, 4097, 20_000])
        return "x" * self.rng.choice([100_000, 400_000])

    # -- bytes -----------------------------------------------------------------------------
    def damaged_bytes(self, body: bytes) -> bytes:
        roll = self.rng.random()
        if roll < 0.35 and body:
            return body[:self.rng.randint(0, len(body) - 1)]  # truncated
        if roll < 0.6:
            at = self.rng.randint(0, len(body))
            bad = self.rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xfe\xff"])
            return body[:at] + bad + body[at:]  # invalid UTF-8
        if roll < 0.75 and body:
            at = self.rng.randrange(len(body))
            return body[:at] + bytes([self.rng.randrange(256)]) + body[at + 1:]  # one byte changed
        if roll < 0.85:
            return self.rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b" \n", b"\x00"]) + body
        return body + self.rng.choice([b"}", b"]]]", b",", b"\x00", b" garbage", body])

    def pathological(self) -> bytes:
        depth = self.rng.choice([100, 1000, 5000, 50_000, 200_000])
        choices: list[Callable[[], bytes]] = [
            lambda: b"[" * depth + b"]" * depth,
            lambda: b'{"a":' * depth + b"1" + b"}" * depth,
            lambda: b"[" * depth,
            lambda: b'{"entry":' + b"[" * depth + b"]" * depth + b"}",
            lambda: ("{" + '"update_id": 1, "message": ' * 1 + "[" * depth + "]" * depth + "}").encode(),
            lambda: b"9" * self.rng.choice([4301, 10_000, 100_000]),
            lambda: b'{"update_id": ' + b"1" * 5000 + b"}",
            lambda: b'{"sender": "a", "message": "hi", "message_id": ' + b"7" * 4400 + b"}",
            lambda: b"1e999999",
            lambda: b'{"object": "page", "entry": [{"id": 1e400}]}',
            lambda: b"NaN", lambda: b"-Infinity", lambda: b"null", lambda: b"true", lambda: b'"text"', lambda: b"[]",
            lambda: b"", lambda: b" ", lambda: b"{}", lambda: b"{" * 3, lambda: b'{"a":1,"a":2}',
            lambda: b'{"message": "\\ud800", "sender": "\\udc00x", "text": "\\u0000"}',
            lambda: bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 2000))),
            lambda: ('{"k": "' + "\\u" + "".join(self.rng.choice("0123456789abcdefDg") for _ in range(4)) + '"}').encode(),
        ]
        return self.rng.choice(choices)()


def _containers(data: Any) -> Iterator[dict | list]:
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            yield node
            stack.extend(node.values() if isinstance(node, dict) else node)
