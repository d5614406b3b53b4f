"""Twitter/X: parsing every fixture, signatures and the CRC check, sends against a fake X API,
and the running service answering DMs and mentions end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.inbox import Inbox
from bot.messages import Button, IncomingMessage, OutgoingMessage, StatusUpdate
from bot.public import PRIVATE_COMPLAINT, PUBLIC_COMPLAINT, PUBLIC_ROUTINE
from bot.settings import Settings
from bot.storage.database import Database
from bot.webhooks import channel_routes
from channels.base import Delivery, WebhookRejected, WebhookRequest
from channels.twitter import TwitterChannel, error_text, fit_tweet, signature, tweet_weight
from tests.support.client import cli_json, responses
from tests.support.fake_platform import FakePlatform, Recorded, Scripted
from tests.support.payloads import well_typed, with_value

PLATFORM_MAX_BODY = Settings().platform_max_body_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twitter"
SECRET = "test-consumer-secret"
TOKEN = "test-oauth2-user-token"
BRAND = "1503227405498351616"
SETTINGS = {"TWITTER_CONSUMER_SECRET": SECRET, "TWITTER_ACCESS_TOKEN": TOKEN, "TWITTER_USER_ID": BRAND}


def channel_for(api_url: str = "http://127.0.0.1:9", clock=time.time) -> TwitterChannel:
    settings = Settings.from_mapping({**SETTINGS, "TWITTER_API_URL": api_url})
    return TwitterChannel(settings, HttpClient(5), clock=clock)


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-twitter-webhooks-signature": signature(secret, body)}


def post_request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


# -- 1. parsing: every fixture against its declared expectation ------------------------------

def _fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))


def _normalised(item: IncomingMessage | StatusUpdate) -> dict:
    kind = "message" if isinstance(item, IncomingMessage) else "status"
    return json.loads(json.dumps({"type": kind, **dataclasses.asdict(item)}))


def _expected(declared: dict) -> dict:
    kind = IncomingMessage if declared["type"] == "message" else StatusUpdate
    defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                for f in dataclasses.fields(kind)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    return json.loads(json.dumps({**defaults, **declared}))


@pytest.mark.parametrize("name", _fixture_names())
def test_every_fixture_parses_to_its_declared_result(name):
    expected_file = FIXTURES / f"{name}.expected.json"
    assert expected_file.exists(), f"tests/fixtures/twitter/{name}.json has no {name}.expected.json"
    body = (FIXTURES / f"{name}.json").read_bytes()
    parsed = channel_for().parse(post_request(body, signed(body)))
    assert [_normalised(p) for p in parsed] == [_expected(e) for e in json.loads(expected_file.read_text())]


def test_there_are_fixtures_for_dms_mentions_receipts_and_ignored_events():
    assert {"dm_text", "mention", "mark_read", "favorite", "unknown_event"} <= set(_fixture_names())


def test_a_redelivered_webhook_gives_the_same_message_ids():
    body = (FIXTURES / "dm_batch.json").read_bytes()
    first = channel_for().parse(post_request(body, signed(body)))
    again = channel_for().parse(post_request(body, signed(body)))
    assert [m.message_id for m in first] == [m.message_id for m in again]


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing"),
    ({"x-twitter-webhooks-signature": "sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "does not match"),
    ({"x-twitter-webhooks-signature": signature("another-secret", (FIXTURES / "dm_text.json").read_bytes())},
     "does not match"),
])
def test_a_missing_or_forged_signature_is_refused_with_403(headers, reason):
    body = (FIXTURES / "dm_text.json").read_bytes()
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(body, headers))
    assert rejected.value.status == 403 and reason in rejected.value.reason


def test_a_signature_over_another_body_is_refused():
    body = (FIXTURES / "dm_text.json").read_bytes()
    tampered = body.replace(b"opening hours", b"refund policy")
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(tampered, signed(body)))
    assert rejected.value.status == 403


def test_the_signature_header_is_found_whatever_its_case():
    body = (FIXTURES / "dm_text.json").read_bytes()
    (message,) = channel_for().parse(post_request(body, {"X-Twitter-Webhooks-Signature": signature(SECRET, body)}))
    assert message.text == "Hi! what are your opening hours?"


@pytest.mark.parametrize("body, reason", [(b"{oops", "malformed JSON"), (b"[1, 2]", "JSON object")])
def test_a_signed_but_malformed_body_is_a_400(body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(body, signed(body)))
    assert rejected.value.status == 400 and reason in rejected.value.reason


def test_the_crc_check_answers_the_hmac_of_the_token():
    answer = channel_for().handshake(WebhookRequest("GET", {}, {"crc_token": "challenge-token-4f1c"}, b""))
    # echo -n challenge-token-4f1c | openssl dgst -sha256 -hmac test-consumer-secret -binary | base64
    assert json.loads(answer.body) == {"response_token": "sha256=7BsgYAjHZ/vfZU4Ol32drKgagC2Pu4Sd0oMndwfKhB0="}
    assert answer.status == 200 and answer.content_type == "application/json"


def test_a_crc_check_without_a_token_is_a_400():
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().handshake(WebhookRequest("GET", {}, {}, b""))
    assert rejected.value.status == 400


@pytest.mark.parametrize("token", [
    "challenge-token-4f1c", "NjA4ODk0NTk3MTk1MzQ3NTU0Mg==", "a+b/c=", "x" * 256,
])
def test_a_crc_token_of_base64_characters_is_answered(token):
    answer = channel_for().handshake(WebhookRequest("GET", {}, {"crc_token": token}, b""))
    assert json.loads(answer.body) == {"response_token": signature(SECRET, token.encode())}


@pytest.mark.parametrize("token", [
    (FIXTURES / "dm_text.json").read_text(), '{"direct_message_events":[]}', "x" * 257, "two words", 'a"b',
    "line\nbreak", "caf\u00e9",
], ids=["a-webhook-body", "a-json-object", "too-long", "space", "quote", "newline", "not-ascii"])
def test_the_crc_check_refuses_to_sign_what_is_no_crc_token(token):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().handshake(WebhookRequest("GET", {}, {"crc_token": token}, b""))
    assert rejected.value.status == 400 and "crc_token" in rejected.value.reason


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_a_crc_answer_cannot_sign_a_forged_delivery(db):
    """The attack: ask the CRC check to sign a body of one's choosing, then deliver that body
    with the answer as its signature (a DM in a customer's name, answered by the brand)."""
    from sqlalchemy import func, select

    from bot.storage.models import InboxItem

    app = web.Application()
    app.router.add_routes(channel_routes(channel_for(), Inbox(db, LocalBus()), PLATFORM_MAX_BODY))
    body = (FIXTURES / "dm_text.json").read_bytes()
    async with TestClient(TestServer(app)) as client:
        crc = await client.get("/webhooks/twitter/webhook", params={"crc_token": body.decode()})
        answer = await crc.json()
        forged_signature = answer.get("response_token", "sha256=")
        forged = await client.post("/webhooks/twitter/webhook", data=body,
                                   headers={"Content-Type": "application/json",
                                            "x-twitter-webhooks-signature": forged_signature})
        assert forged.status in (401, 403), f"a forged delivery was answered {forged.status}"
        assert crc.status == 400 and "crc_token" in answer["error"]
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(InboxItem)) == 0

        # X's own CRC checks and signed deliveries still work.
        real_crc = await client.get("/webhooks/twitter/webhook", params={"crc_token": "challenge-token-4f1c"})
        assert (await real_crc.json())["response_token"] == signature(SECRET, b"challenge-token-4f1c")
        delivered = await client.post("/webhooks/twitter/webhook", data=body, headers=signed(body))
        assert delivered.status == 200 and (await delivered.json())["accepted"] == 1


def test_a_signed_body_that_is_no_json_object_is_refused_before_its_signature_is_checked():
    # What the CRC check signs (a token) can never pass as a delivery, whatever its signature.
    for body in (b"challenge-token-4f1c", b"NjA4ODk0NTk3MTk1MzQ3NTU0Mg=="):
        with pytest.raises(WebhookRejected) as rejected:
            channel_for().parse(post_request(body, signed(body)))
        assert rejected.value.status == 400 and "JSON object" in rejected.value.reason


def test_without_credentials_the_channel_names_the_missing_settings():
    channel = TwitterChannel(Settings.from_mapping({}), HttpClient(1))
    assert channel.missing_settings == ("TWITTER_CONSUMER_SECRET", "TWITTER_ACCESS_TOKEN", "TWITTER_USER_ID")
    assert TwitterChannel(Settings.from_mapping(SETTINGS), HttpClient(1)).missing_settings == ()


async def test_an_unconfigured_twitter_webhook_is_refused_with_403_naming_the_setting(tmp_path):
    channel = TwitterChannel(Settings.from_mapping({"TWITTER_USER_ID": BRAND}), HttpClient(1))
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    app = web.Application()
    app.router.add_routes(channel_routes(channel, Inbox(database, LocalBus()), PLATFORM_MAX_BODY))
    async with TestClient(TestServer(app)) as client:
        body = (FIXTURES / "dm_text.json").read_bytes()
        refused = await client.post("/webhooks/twitter/webhook", data=body, headers=signed(body))
        crc = await client.get("/webhooks/twitter/webhook", params={"crc_token": "x"})
        assert refused.status == 403 and crc.status == 403
        reason = (await refused.json())["error"]
        assert "TWITTER_CONSUMER_SECRET" in reason and "TWITTER_ACCESS_TOKEN" in reason
    await database.close()


def test_a_public_reply_is_one_tweet_cut_at_a_word_with_an_ellipsis():
    long = "Our opening hours are Monday to Friday from nine to six. " * 10
    fitted = fit_tweet(long)
    assert tweet_weight(fitted) <= 280 and fitted.endswith("…") and long.startswith(fitted[:-1])
    assert fit_tweet("short and sweet") == "short and sweet"
    assert tweet_weight(PUBLIC_ROUTINE) <= 280 and fit_tweet(PUBLIC_ROUTINE) == PUBLIC_ROUTINE


def test_the_tweet_length_counts_links_as_23_and_wide_characters_as_2():
    assert tweet_weight("abc") == 3
    assert tweet_weight("see https://example.com/a/very/long/path/that/is/long") == 4 + 23
    assert tweet_weight("営業時間") == 8 and tweet_weight("💬") == 2
    assert tweet_weight(fit_tweet("営業時間は何時ですか " * 40)) <= 280


@pytest.mark.parametrize("body, expected", [
    ({"title": "Forbidden", "detail": "You cannot send messages to this user.", "type": "about:blank"},
     "X API 403: You cannot send messages to this user."),
    ({"errors": [{"message": "You cannot send messages to users who are not following you.", "code": 150}]},
     "X API 403: You cannot send messages to users who are not following you. (code 150)"),
    ({}, "X API 403"),
])
def test_errors_are_made_readable(body, expected):
    assert error_text(403, body) == expected


# -- 2. sending, against a fake X API on loopback ----------------------------------------------

class XApi:
    """Answers like X's API v2 and remembers the ids it handed out."""

    def __init__(self) -> None:
        self.issued: list[tuple[str, str]] = []  # (path, id)
        self._lock = threading.Lock()
        self._ids = iter(range(1798400000000000000, 1798500000000000000, 7))

    def __call__(self, recorded: Recorded) -> tuple[int, dict]:
        with self._lock:
            new_id = str(next(self._ids))
            self.issued.append((recorded.path, new_id))
        if recorded.path.startswith("/2/dm_conversations/with/"):
            participant = recorded.path.split("/")[4]
            return 201, {"data": {"dm_conversation_id": f"{participant}-{BRAND}", "dm_event_id": new_id}}
        if recorded.path == "/2/tweets":
            return 201, {"data": {"id": new_id, "text": recorded.json["text"], "edit_history_tweet_ids": [new_id]}}
        if recorded.path.endswith("/hidden"):
            return 200, {"data": {"hidden": True}}
        return 404, {"title": "Not Found Error", "detail": f"no route {recorded.path}", "type": "about:blank"}


@pytest.fixture(scope="module")
def x_api():
    answers = XApi()
    server = FakePlatform(default=answers).start()
    server.answers = answers
    yield server
    server.stop()


def new_user_id() -> str:
    return str(random.randrange(10 ** 17, 10 ** 18))


def delivery(**fields) -> Delivery:
    message = OutgoingMessage(channel="twitter", **fields)
    return Delivery(message, history_id=1, idempotency_key="k-1")


async def test_a_dm_goes_to_the_participant_with_the_bearer_token(x_api):
    user = new_user_id()
    result = await channel_for(x_api.url).send(delivery(recipient_id=user, text="We're open 9 to 6."))
    (request,) = x_api.received(f"/with/{user}/")
    assert request.method == "POST" and request.path == f"/2/dm_conversations/with/{user}/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json == {"text": "We're open 9 to 6."}
    assert result.ok and result.platform_message_id == dict(x_api.answers.issued)[request.path]


async def test_buttons_become_a_reply_with_line_and_an_image_its_link(x_api):
    user = new_user_id()
    await channel_for(x_api.url).send(delivery(
        recipient_id=user, text="How can I help?", image="https://cdn.example.com/size-guide.png",
        buttons=(Button("Track my order", "/track_order"), Button("Talk to a person", "/request_human"))))
    (request,) = x_api.received(f"/with/{user}/")
    assert request.json == {"text": "How can I help?\n\nhttps://cdn.example.com/size-guide.png\n\n"
                                    "Reply with: Track my order / Talk to a person"}


async def test_a_dm_longer_than_10000_characters_is_split_in_order(x_api):
    user = new_user_id()
    sentences = [f"Sentence number {i} is about our returns policy." for i in range(400)]
    result = await channel_for(x_api.url).send(delivery(recipient_id=user, text=" ".join(sentences)))
    requests = x_api.received(f"/with/{user}/")
    assert len(requests) == 2 and all(len(r.json["text"]) <= 10_000 for r in requests)
    assert " ".join(r.json["text"] for r in requests) == " ".join(sentences)
    last_issued = [i for path, i in x_api.answers.issued if path == requests[-1].path][-1]
    assert result.ok and result.platform_message_id == last_issued


async def test_a_retried_long_dm_starts_after_the_parts_already_delivered(x_api):
    user = new_user_id()
    text = " ".join(f"Sentence number {i} is about our returns policy." for i in range(400))
    x_api.script(f"/with/{user}/", Scripted(201, {"data": {"dm_conversation_id": f"{user}-{BRAND}",
                                                           "dm_event_id": new_user_id()}}),
                 Scripted(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank"}))
    first = await channel_for(x_api.url).send(delivery(recipient_id=user, text=text))
    assert not first.ok and not first.permanent and first.parts_sent == 1
    again = await channel_for(x_api.url).send(dataclasses.replace(delivery(recipient_id=user, text=text),
                                                                  parts_sent=first.parts_sent))
    parts = [r.json["text"] for r in x_api.received(f"/with/{user}/")]
    assert again.ok and again.parts_sent == 2 and len(parts) == 3 and parts[1] == parts[2]
    assert " ".join(parts[:1] + parts[2:]) == text


async def test_a_public_reply_is_one_tweet_in_reply_to_the_mention(x_api):
    tweet = new_user_id()
    result = await channel_for(x_api.url).send(delivery(
        recipient_id=new_user_id(), text="word " * 100, is_public=True, thread_id=tweet))
    (request,) = [r for r in x_api.received("/2/tweets") if r.json["reply"]["in_reply_to_tweet_id"] == tweet]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert tweet_weight(request.json["text"]) <= 280 and request.json["text"].endswith("…")
    assert result.ok and result.platform_message_id.isdigit()


async def test_the_private_answer_after_a_mention_goes_by_dm(x_api):
    user = new_user_id()
    result = await channel_for(x_api.url).send(delivery(
        recipient_id=user, text="Here are the details.", custom={"private_reply": True},
        thread_id="1798317562141118726"))
    assert result.ok and [r.json for r in x_api.received(f"/with/{user}/")] == [{"text": "Here are the details."}]


async def test_hiding_an_abusive_reply_uses_the_hide_replies_endpoint(x_api):
    tweet = new_user_id()
    result = await channel_for(x_api.url).send(delivery(
        recipient_id=new_user_id(), text="(comment hidden for moderation)", custom={"moderation": "hide"},
        is_public=True, thread_id=tweet, author="system"))
    (request,) = x_api.received(f"/2/tweets/{tweet}/hidden")
    assert request.method == "PUT" and request.json == {"hidden": True} and result.ok


async def test_a_429_is_retried_after_the_rate_limit_reset(x_api):
    user = new_user_id()
    now = 1_717_580_000.0
    x_api.script(f"/with/{user}/", Scripted(429, {"title": "Too Many Requests", "detail": "Too Many Requests"},
                                            headers={"x-rate-limit-reset": str(int(now) + 42)}))
    result = await channel_for(x_api.url, clock=lambda: now).send(delivery(recipient_id=user, text="hi"))
    assert not result.ok and not result.permanent and result.retry_after == 42
    assert "Too Many Requests" in result.error


async def test_a_429_with_retry_after_uses_it(x_api):
    user = new_user_id()
    x_api.script(f"/with/{user}/", Scripted(429, {"title": "Too Many Requests"}, headers={"Retry-After": "7"}))
    result = await channel_for(x_api.url).send(delivery(recipient_id=user, text="hi"))
    assert not result.ok and not result.permanent and result.retry_after == 7


async def test_a_5xx_is_retried(x_api):
    user = new_user_id()
    x_api.script(f"/with/{user}/", Scripted(503, {"title": "Service Unavailable", "detail": "Service Unavailable"}))
    result = await channel_for(x_api.url).send(delivery(recipient_id=user, text="hi"))
    assert not result.ok and not result.permanent and result.retry_after is None


@pytest.mark.parametrize("status, body, readable", [
    (403, {"detail": "You cannot send messages to this user.", "title": "Forbidden", "type": "about:blank"},
     "You cannot send messages to this user."),
    (400, {"errors": [{"parameters": {"text": [""]}, "message": "The `text` field is required."}],
           "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
           "type": "https://api.twitter.com/2/problems/invalid-request"},
     "The `text` field is required."),
    (403, {"errors": [{"message": "You are not permitted to perform this action.", "code": 349}]},
     "You are not permitted to perform this action. (code 349)"),
])
async def test_a_refused_send_fails_for_good_with_the_platforms_reason(x_api, status, body, readable):
    user = new_user_id()
    x_api.script(f"/with/{user}/", Scripted(status, body))
    result = await channel_for(x_api.url).send(delivery(recipient_id=user, text="hi"))
    assert not result.ok and result.permanent and readable in result.error


async def test_an_unreachable_api_is_retried():
    result = await channel_for("http://127.0.0.1:9").send(delivery(recipient_id="1", text="hi"))
    assert not result.ok and not result.permanent and "unreachable" in result.error


async def test_a_reply_with_nothing_to_show_fails_without_calling_x(x_api):
    before = len(x_api.received())
    result = await channel_for(x_api.url).send(delivery(recipient_id=new_user_id(), custom={"data": {}}))
    assert result.permanent and len(x_api.received()) == before


# -- 3. the running service ------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(start_service, x_api):
    return start_service(**SETTINGS, TWITTER_API_URL=x_api.url, OUTBOX_BACKOFF_BASE="0.05",
                         OUTBOX_BACKOFF_MAX="0.5", POLL_INTERVAL="0.1")


def dm_body(sender: str, text: str, event_id: str | None = None, name: str = "Maya Lindqvist") -> bytes:
    return json.dumps({
        "for_user_id": BRAND,
        "direct_message_events": [{
            "type": "message_create", "id": event_id or new_user_id(),
            "created_timestamp": str(int(time.time() * 1000)),
            "message_create": {"target": {"recipient_id": BRAND}, "sender_id": sender,
                               "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [],
                                                                           "user_mentions": [], "urls": []}}},
        }],
        "users": {sender: {"id": sender, "name": name, "screen_name": "customer"}},
    }).encode()


def mention_body(author: str, tweet_id: str, text: str) -> bytes:
    fixture = json.loads((FIXTURES / "mention.json").read_text())
    tweet = fixture["tweet_create_events"][0]
    tweet.update(id=int(tweet_id), id_str=tweet_id, text=f"@NorthwindHelp {text}")
    tweet["user"].update(id=int(author), id_str=author)
    return json.dumps(fixture).encode()


async def deliver(service, body: bytes, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/twitter/webhook", data=body,
                             headers=headers if headers is not None else signed(body)) as response:
            await response.read()
            return response


async def dms_to(x_api, user: str, count: int = 1, timeout: float = 60) -> list[Recorded]:
    await asyncio.to_thread(x_api.wait_for, lambda got: len([r for r in got if f"/with/{user}/" in r.path]) >= count,
                            timeout)
    return x_api.received(f"/with/{user}/")


async def tweets_replying_to(x_api, tweet: str, count: int = 1, timeout: float = 60) -> list[Recorded]:
    def replies(got):
        return [r for r in got if r.path == "/2/tweets" and r.json["reply"]["in_reply_to_tweet_id"] == tweet]

    await asyncio.to_thread(x_api.wait_for, lambda got: len(replies(got)) >= count, timeout)
    return replies(x_api.received("/2/tweets"))


def opening_hours_in(text: str) -> bool:
    return any(variation and variation in text for variation in responses()["utter_opening_hours"])


@pytest.mark.slow
async def test_the_running_service_answers_the_crc_check(service):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{service.url}/webhooks/twitter/webhook",
                            params={"crc_token": "challenge-token-4f1c"}) as response:
            assert response.status == 200 and response.content_type == "application/json"
            assert await response.json() == {"response_token": "sha256=7BsgYAjHZ/vfZU4Ol32drKgagC2Pu4Sd0oMndwfKhB0="}
        async with http.get(f"{service.url}/webhooks/twitter/webhook") as response:
            assert response.status == 400


@pytest.mark.slow
async def test_a_routine_dm_is_answered_by_dm_and_read_receipts_reach_the_history(service, x_api):
    user = new_user_id()
    response = await deliver(service, dm_body(user, "what are your opening hours?"))
    assert response.status == 200
    (reply,) = await dms_to(x_api, user)
    assert reply.method == "POST" and reply.headers["Authorization"] == f"Bearer {TOKEN}"
    assert opening_hours_in(reply.json["text"])
    assert (await health_of(service))["channels"]["twitter"] == "configured"

    event_id = dict(x_api.answers.issued)[reply.path]
    read = json.dumps({"for_user_id": BRAND, "direct_message_mark_read_events": [
        {"created_timestamp": str(int(time.time() * 1000)), "sender_id": user,
         "target": {"recipient_id": BRAND}, "last_read_event_id": event_id}]}).encode()
    assert (await deliver(service, read)).status == 200
    # The receipt may beat the record of the send by milliseconds; it is applied then too.
    deadline = time.monotonic() + 10
    while True:
        transcript = cli_json(service.env["DATABASE_URL"], "transcript", "--channel", "twitter", "--sender", user)
        statuses = [m["delivery_status"] for m in transcript["conversations"][0]["messages"] if m["author"] == "bot"]
        if statuses == ["read"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert statuses == ["read"]


async def health_of(service) -> dict:
    return await asyncio.to_thread(service.health)


@pytest.mark.slow
async def test_a_redelivered_dm_is_answered_once(service, x_api):
    user = new_user_id()
    body = dm_body(user, "do you ship internationally?", event_id=new_user_id())
    first, second = await asyncio.gather(deliver(service, body), deliver(service, body))
    assert first.status == second.status == 200
    assert (await deliver(service, body)).status == 200
    await dms_to(x_api, user)
    await asyncio.sleep(1.5)
    assert len(x_api.received(f"/with/{user}/")) == 1


@pytest.mark.slow
async def test_a_forged_signature_gets_403_and_nothing_is_answered(service, x_api):
    user = new_user_id()
    body = dm_body(user, "what are your opening hours?")
    response = await deliver(service, body, signed(body, secret="not-the-secret"))
    assert response.status == 403
    await asyncio.sleep(1.5)
    assert x_api.received(f"/with/{user}/") == []


@pytest.mark.slow
async def test_an_unknown_event_is_acknowledged_and_nothing_is_sent(service, x_api):
    before = len(x_api.received())
    body = (FIXTURES / "unknown_event.json").read_bytes()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/twitter/webhook", data=body, headers=signed(body)) as response:
            assert response.status == 200 and (await response.json())["accepted"] == 0
    await asyncio.sleep(1)
    assert len(x_api.received()) == before


@pytest.mark.slow
async def test_a_photo_without_words_gets_a_polite_text(service, x_api):
    user = new_user_id()
    fixture = json.loads((FIXTURES / "dm_image.json").read_text())
    event = fixture["direct_message_events"][0]
    event["id"] = new_user_id()
    event["message_create"]["sender_id"] = user
    assert (await deliver(service, json.dumps(fixture).encode())).status == 200
    (reply,) = await dms_to(x_api, user)
    assert "Thanks for the photo" in reply.json["text"]


@pytest.mark.slow
async def test_a_500_then_a_429_still_delivers_the_reply_once(service, x_api):
    user = new_user_id()
    x_api.script(f"/with/{user}/",
                 Scripted(500, {"title": "Internal Server Error", "detail": "Internal Server Error"}),
                 Scripted(429, {"title": "Too Many Requests"}, headers={"x-rate-limit-reset": str(int(time.time()))}))
    assert (await deliver(service, dm_body(user, "when are you open?"))).status == 200
    attempts = await dms_to(x_api, user, count=3)
    await asyncio.sleep(1)
    attempts = x_api.received(f"/with/{user}/")
    assert len(attempts) == 3 and len({r.body for r in attempts}) == 1
    transcript = cli_json(service.env["DATABASE_URL"], "transcript", "--channel", "twitter", "--sender", user)
    bot = [m for m in transcript["conversations"][0]["messages"] if m["author"] == "bot"]
    assert len(bot) == 1 and bot[0]["delivery_status"] == "sent"


@pytest.mark.slow
async def test_a_routine_mention_gets_one_public_tweet_and_the_answer_by_dm(service, x_api):
    user, tweet = new_user_id(), new_user_id()
    assert (await deliver(service, mention_body(user, tweet, "what are your opening hours?"))).status == 200
    (public,) = await tweets_replying_to(x_api, tweet)
    (private,) = await dms_to(x_api, user)
    assert public.json == {"text": PUBLIC_ROUTINE, "reply": {"in_reply_to_tweet_id": tweet}}
    assert tweet_weight(public.json["text"]) <= 280
    assert opening_hours_in(private.json["text"])
    await asyncio.sleep(1)
    assert len(await tweets_replying_to(x_api, tweet)) == 1 and len(x_api.received(f"/with/{user}/")) == 1


@pytest.mark.slow
async def test_a_complaining_mention_is_queued_first_and_answered_with_empathy(service, x_api):
    user, tweet = new_user_id(), new_user_id()
    complaint = "this is the worst service ever, my parcel arrived broken and nobody answers"
    assert (await deliver(service, mention_body(user, tweet, complaint))).status == 200
    (public,) = await tweets_replying_to(x_api, tweet)
    (private,) = await dms_to(x_api, user)
    assert public.json == {"text": PUBLIC_COMPLAINT, "reply": {"in_reply_to_tweet_id": tweet}}
    # The private message opens with the apology; the expected wait and hours follow it.
    assert set(private.json) == {"text"} and private.json["text"].startswith(PRIVATE_COMPLAINT)
    queue = {row["customer_id"]: row for row in cli_json(service.env["DATABASE_URL"], "queue")}
    assert queue[user]["priority"] >= 100 and queue[user]["status"] == "queued" and queue[user]["public"]
    await asyncio.sleep(1)
    assert len(await tweets_replying_to(x_api, tweet)) == 1 and len(x_api.received(f"/with/{user}/")) == 1


# -- fields of the wrong type (found by `make fuzz`): read as absent, never a 500 ---------------

DM = ("direct_message_events", 0)
TWEET = ("tweet_create_events", 0)


@pytest.mark.parametrize("name, path, value", [
    ("dm_text", (*DM, "message_create"), "hello"),
    ("dm_text", (*DM, "message_create", "message_data"), ["hello"]),
    ("dm_text", ("users", "1187365042719219712"), ["Maya"]),
    ("dm_text", ("users", "1187365042719219712", "name"), {"first": "Maya"}),
    ("dm_image", (*DM, "message_create", "message_data", "attachment"), "media"),
    ("mention", (*TWEET, "user"), "maya_lq"),
    ("mention", (*TWEET, "entities", "user_mentions"), [1, "NorthwindHelp", None]),
    ("mention_photo_only", (*TWEET, "extended_entities", "media"), 5),
    ("mention_photo_only", (*TWEET, "extended_entities", "media"), [3, {"url": 7, "media_url_https": ["x"]}]),
    ("mention_photo_only", (*TWEET, "extended_entities"), "media"),
])
def test_a_field_of_the_wrong_type_is_read_as_absent(name, path, value):
    body = with_value("twitter", name, path, value)
    assert well_typed(channel_for().parse(post_request(body, signed(body))))
