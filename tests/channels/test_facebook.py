"""Facebook (Messenger and page comments): parsing every fixture, the signature and the
handshake, sends against a fake Graph API, and the running service end to end.

tests/channels/test_instagram.py reuses the helpers defined here (the Graph API fake, the
fixture harness, signing)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import threading
from datetime import datetime, timedelta, timezone
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
from bot.storage import inbox as inbox_store
from bot.webhooks import channel_routes
from channels import facebook
from channels.base import Delivery, WebhookRejected, WebhookRequest
from channels.meta import signature
from channels.meta_messaging import MetaChannel, Platform
from tests.support.client import add_account, cli_json, responses
from tests.support.fake_platform import FakePlatform, Recorded, Scripted
from tests.support.payloads import well_typed, with_value

PLATFORM_MAX_BODY = Settings().platform_max_body_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
APP_SECRET = "test-meta-app-secret"
VERIFY_TOKEN = "test-verify-token"
PAGE_TOKEN = "test-page-access-token"
PAGE_ID = "104735538913427"
IG_ACCOUNT_ID = "17841405793187218"
SETTINGS = {"META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN, "META_PAGE_ACCESS_TOKEN": PAGE_TOKEN,
            "META_PAGE_ID": PAGE_ID, "INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID}
NOW = datetime(2024, 6, 5, 12, 0, tzinfo=timezone.utc)


# -- helpers shared with test_instagram.py -----------------------------------------------------

def channel_for(platform: Platform, api_url: str = "http://127.0.0.1:9", http: HttpClient | None = None,
                **overrides: str) -> MetaChannel:
    settings = Settings.from_mapping({**SETTINGS, "META_GRAPH_URL": f"{api_url}/v19.0", **overrides})
    return MetaChannel(platform, settings, http or HttpClient(5), clock=lambda: NOW)


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret, body)}


def post_request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


def fixture_names(platform: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / platform).glob("*.json") if not p.name.endswith(".expected.json"))


def normalised(item: IncomingMessage | StatusUpdate) -> dict:
    kind = "message" if isinstance(item, IncomingMessage) else "status"
    return json.loads(json.dumps({"type": kind, **dataclasses.asdict(item)}))


def expected(declared: dict) -> dict:
    kind = IncomingMessage if declared["type"] == "message" else StatusUpdate
    defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                for f in dataclasses.fields(kind)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    return json.loads(json.dumps({**defaults, **declared}))


def check_fixture(platform: Platform, name: str) -> None:
    folder = FIXTURES / platform.name
    expected_file = folder / f"{name}.expected.json"
    assert expected_file.exists(), f"tests/fixtures/{platform.name}/{name}.json has no {name}.expected.json"
    body = (folder / f"{name}.json").read_bytes()
    parsed = channel_for(platform).parse(post_request(body, signed(body)))
    assert [normalised(p) for p in parsed] == [expected(e) for e in json.loads(expected_file.read_text())]


class GraphAnswers:
    """Answers like the Graph API: a mid for /me/messages, an id for a comment reply,
    success for a hide; remembers what it handed out."""

    def __init__(self) -> None:
        self.issued: dict[tuple[str, bytes], str] = {}  # (path, body) → the id answered
        self._lock = threading.Lock()
        self._ids = iter(range(10 ** 15, 2 * 10 ** 15, 7))

    def __call__(self, recorded: Recorded) -> tuple[int, dict]:
        with self._lock:
            new_id = str(next(self._ids))
        if recorded.path.endswith("/me/messages"):
            recipient = recorded.json["recipient"]
            answer = {"recipient_id": recipient.get("id") or f"psid-{new_id}", "message_id": f"m_{new_id}"}
            issued = answer["message_id"]
        elif recorded.path.endswith(("/comments", "/replies")):
            answer = {"id": f"{recorded.path.split('/')[-2]}_{new_id}"}
            issued = answer["id"]
        else:
            answer, issued = {"success": True}, ""
        with self._lock:
            self.issued[recorded.path, recorded.body] = issued
        return 200, answer

    def id_for(self, recorded: Recorded) -> str:
        with self._lock:
            return self.issued[recorded.path, recorded.body]


@pytest.fixture(scope="module")
def graph_api():
    answers = GraphAnswers()
    server = FakePlatform(default=answers).start()
    server.answers = answers
    yield server
    server.stop()


@pytest.fixture
async def http():
    client = HttpClient(5)
    yield client
    await client.close()


def new_id() -> str:
    return str(random.randrange(10 ** 15, 10 ** 16))


def delivery(channel: str, last_seen: timedelta | None = timedelta(minutes=5), **fields) -> Delivery:
    return Delivery(OutgoingMessage(channel=channel, **fields), history_id=1, idempotency_key="k-1",
                    customer_last_message_at=NOW - last_seen if last_seen is not None else None)


def sent_to(graph_api: FakePlatform, recipient: dict) -> list[Recorded]:
    return [r for r in graph_api.received("/me/messages") if r.json["recipient"] == recipient]


def psid_of(mid: str) -> str:
    """The PSID the fake Graph API answered with the private reply it gave `mid`."""
    return f"psid-{mid.removeprefix('m_')}"


def opening_hours_in(text: str) -> bool:
    return any(variation and variation in text for variation in responses()["utter_opening_hours"])


# -- 1. parsing: every fixture against its declared result -------------------------------------

@pytest.mark.parametrize("name", fixture_names("facebook"))
def test_every_fixture_parses_to_its_declared_result(name):
    check_fixture(facebook.PLATFORM, name)


def test_there_are_fixtures_for_every_kind_of_event():
    assert {"message_text", "message_quick_reply", "postback", "message_image", "message_sticker",
            "message_location", "message_echo", "message_read", "message_delivery", "message_reaction", "batch",
            "feed_comment_add", "feed_own_comment", "feed_comment_edited", "unknown_field"} <= set(
        fixture_names("facebook"))


def test_every_event_of_every_entry_of_a_batch_is_read():
    body = (FIXTURES / "facebook" / "batch.json").read_bytes()
    parsed = channel_for(facebook.PLATFORM).parse(post_request(body, signed(body)))
    assert len(json.loads(body)["entry"]) == 3
    assert len([p for p in parsed if isinstance(p, IncomingMessage)]) == 4


def test_a_redelivered_webhook_gives_the_same_message_ids():
    body = (FIXTURES / "facebook" / "batch.json").read_bytes()
    first = channel_for(facebook.PLATFORM).parse(post_request(body, signed(body)))
    again = channel_for(facebook.PLATFORM).parse(post_request(body, signed(body)))
    assert [normalised(m) for m in first] == [normalised(m) for m in again]


@pytest.mark.parametrize("event", [
    {"sender": "6723094417713462", "message": {"mid": "m_1", "text": "hi"}},
    {"sender": {"id": "6723094417713462"}, "message": "hi"},
    {"sender": {"id": "6723094417713462"}, "message": {"mid": "m_2", "attachments": ["image"], "quick_reply": 7}},
    {"sender": {"id": "6723094417713462"}, "delivery": {"mids": "m_3"}},
    {"sender": {"id": "6723094417713462"}, "postback": None},
    {"sender": {"id": "6723094417713462"}},
])
def test_events_of_unexpected_shapes_are_skipped_not_a_500(event):
    body = json.dumps({"object": "page", "entry": [
        {"id": PAGE_ID, "time": 1, "messaging": [event], "changes": [{"field": "feed", "value": {
            "item": "comment", "verb": "add", "comment_id": "1_2", "from": "someone"}}]}, "oops"]}).encode()
    parsed = channel_for(facebook.PLATFORM).parse(post_request(body, signed(body)))
    assert all(isinstance(p, (IncomingMessage, StatusUpdate)) for p in parsed)


def test_the_pages_own_comment_is_ignored_even_without_the_page_id_setting():
    body = (FIXTURES / "facebook" / "feed_own_comment.json").read_bytes()
    assert channel_for(facebook.PLATFORM, META_PAGE_ID="").parse(post_request(body, signed(body))) == []


# -- 2. signature and handshake --------------------------------------------------------------

@pytest.mark.parametrize("headers, reason", [
    ({}, "missing"),
    ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "does not match"),
    ({"X-Hub-Signature-256": signature("another-secret", (FIXTURES / "facebook" / "message_text.json").read_bytes())},
     "does not match"),
])
def test_a_missing_or_forged_signature_is_refused_with_403(headers, reason):
    body = (FIXTURES / "facebook" / "message_text.json").read_bytes()
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(facebook.PLATFORM).parse(post_request(body, headers))
    assert rejected.value.status == 403 and reason in rejected.value.reason


def test_a_signature_over_another_body_is_refused():
    body = (FIXTURES / "facebook" / "message_text.json").read_bytes()
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(facebook.PLATFORM).parse(post_request(body.replace(b"opening", b"closing"), signed(body)))
    assert rejected.value.status == 403


def test_the_signature_is_checked_before_the_body_is_decoded():
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(facebook.PLATFORM).parse(post_request(b"{not json", signed(b"{other")))
    assert rejected.value.status == 403
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(facebook.PLATFORM).parse(post_request(b"{not json", signed(b"{not json")))
    assert rejected.value.status == 400 and "malformed JSON" in rejected.value.reason


async def test_forged_or_unsigned_webhooks_store_nothing_and_a_signed_one_is_stored(db):
    app = web.Application()
    app.router.add_routes(channel_routes(channel_for(facebook.PLATFORM), Inbox(db, LocalBus()), PLATFORM_MAX_BODY))
    body = (FIXTURES / "facebook" / "batch.json").read_bytes()
    async with TestClient(TestServer(app)) as client:
        for headers in ({"Content-Type": "application/json"}, signed(body, secret="not-the-app-secret")):
            response = await client.post("/webhooks/facebook/webhook", data=body, headers=headers)
            assert response.status == 403 and "X-Hub-Signature-256" in (await response.json())["error"]
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 0
        response = await client.post("/webhooks/facebook/webhook", data=body, headers=signed(body))
        assert response.status == 200 and (await response.json())["accepted"] == 4
        again = await client.post("/webhooks/facebook/webhook", data=body, headers=signed(body))
        assert (await again.json()) == {"status": "ok", "accepted": 0, "duplicates": 4}
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 4


def test_the_handshake_echoes_the_challenge_for_the_right_token():
    answer = channel_for(facebook.PLATFORM).handshake(WebhookRequest("GET", {}, {
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}, b""))
    assert (answer.status, answer.body) == (200, "1158201444")


@pytest.mark.parametrize("query, status", [
    ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"}, 403),
    ({"hub.mode": "subscribe", "hub.challenge": "1158201444"}, 403),
    ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}, 400),
])
def test_a_handshake_with_a_wrong_token_is_refused(query, status):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(facebook.PLATFORM).handshake(WebhookRequest("GET", {}, query, b""))
    assert rejected.value.status == status


def test_without_credentials_the_channel_names_the_missing_settings():
    channel = facebook.build(Settings.from_mapping({}), HttpClient(1), LocalBus())
    assert channel.name == "facebook"
    assert channel.missing_settings == ("META_APP_SECRET", "META_VERIFY_TOKEN", "META_PAGE_ACCESS_TOKEN",
                                        "META_PAGE_ID")
    assert channel_for(facebook.PLATFORM).missing_settings == ()


# -- 3. sending, against a fake Graph API on loopback ------------------------------------------

async def test_a_reply_goes_to_me_messages_as_a_response_with_the_page_token(graph_api, http):
    psid = new_id()
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(
        delivery("facebook", recipient_id=psid, text="We're open 9 to 6."))
    (request,) = sent_to(graph_api, {"id": psid})
    assert request.method == "POST" and request.path == "/v19.0/me/messages"
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert request.json == {"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                            "message": {"text": "We're open 9 to 6."}}
    assert result.ok and result.platform_message_id == graph_api.answers.id_for(request)


async def test_buttons_become_at_most_13_quick_replies_on_the_last_message(graph_api, http):
    psid = new_id()
    buttons = tuple(Button(f"Option number {i} with a long title", f"/choose{{\"n\": {i}}}") for i in range(15))
    await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", recipient_id=psid, text="Pick one:", image="https://cdn.example.com/size-guide.png",
        buttons=buttons))
    text, image = [r.json["message"] for r in sent_to(graph_api, {"id": psid})]
    assert text == {"text": "Pick one:"}
    assert image["attachment"] == {"type": "image", "payload": {"url": "https://cdn.example.com/size-guide.png",
                                                                "is_reusable": True}}
    quick = image["quick_replies"]
    assert len(quick) == 13 and all(q["content_type"] == "text" and len(q["title"]) <= 20 for q in quick)
    assert quick[0] == {"content_type": "text", "title": "Option number 0 wit…", "payload": '/choose{"n": 0}'}


async def test_a_text_longer_than_2000_characters_is_split_in_order(graph_api, http):
    psid = new_id()
    sentences = [f"Sentence number {i} is about our returns policy." for i in range(100)]
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(
        delivery("facebook", recipient_id=psid, text=" ".join(sentences)))
    parts = [r.json["message"]["text"] for r in sent_to(graph_api, {"id": psid})]
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts) and " ".join(parts) == " ".join(sentences)
    requests = sent_to(graph_api, {"id": psid})
    assert result.ok and result.platform_message_id == graph_api.answers.id_for(requests[-1])


@pytest.mark.parametrize("last_seen", [timedelta(hours=25), None])
async def test_a_bot_reply_outside_the_24_hour_window_is_not_sent(graph_api, http, last_seen):
    psid = new_id()
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(
        delivery("facebook", last_seen=last_seen, recipient_id=psid, text="Anything else?"))
    assert not result.ok and result.permanent and "24-hour" in result.error
    assert sent_to(graph_api, {"id": psid}) == []


@pytest.mark.parametrize("last_seen, expected_type", [
    (timedelta(hours=2), {"messaging_type": "RESPONSE"}),
    (timedelta(days=3), {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
    (timedelta(days=6, hours=23), {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
])
async def test_an_agents_reply_within_7_days_carries_the_human_agent_tag(graph_api, http, last_seen,
                                                                         expected_type):
    psid = new_id()
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", last_seen=last_seen, recipient_id=psid, text="Your refund is on its way.", author="agent",
        agent_name="Sam"))
    (request,) = sent_to(graph_api, {"id": psid})
    assert result.ok and request.json == {"recipient": {"id": psid}, **expected_type,
                                          "message": {"text": "Your refund is on its way."}}


async def test_an_agents_reply_after_7_days_is_not_sent(graph_api, http):
    psid = new_id()
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", last_seen=timedelta(days=7, minutes=1), recipient_id=psid, text="Hello?", author="agent"))
    assert not result.ok and result.permanent and "7 days" in result.error
    assert sent_to(graph_api, {"id": psid}) == []


async def test_a_public_reply_is_a_comment_under_the_comment(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", recipient_id=new_id(), text=PUBLIC_ROUTINE, is_public=True, thread_id=comment))
    (request,) = graph_api.received(f"/{comment}/comments")
    assert request.path == f"/v19.0/{comment}/comments" and request.json == {"message": PUBLIC_ROUTINE}
    assert result.ok and result.platform_message_id == graph_api.answers.id_for(request)


async def test_the_private_reply_to_a_comment_is_one_message_to_the_comment(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    long = " ".join(f"Sentence number {i} is about our returns policy." for i in range(100))
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", last_seen=timedelta(days=2), recipient_id=new_id(), text=long,
        buttons=(Button("Track my order", "/track_order"),), custom={"private_reply": True}, thread_id=comment))
    (request,) = sent_to(graph_api, {"comment_id": comment})
    message = request.json["message"]
    assert "messaging_type" not in request.json and len(message["text"]) <= 2000 and message["text"].endswith("…")
    assert message["quick_replies"] == [{"content_type": "text", "title": "Track my order", "payload": "/track_order"}]
    assert result.ok


async def test_a_private_reply_to_a_comment_older_than_7_days_is_not_sent(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", last_seen=timedelta(minutes=5), recipient_id=new_id(), text="Details.", thread_id=comment,
        custom={"private_reply": True, "comment_at": (NOW - timedelta(days=7, minutes=1)).isoformat()}))
    assert result.permanent and "7 days" in result.error and sent_to(graph_api, {"comment_id": comment}) == []


async def test_the_private_reply_window_runs_from_the_comment_not_the_last_message(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", last_seen=timedelta(days=30), recipient_id=new_id(), text="Details.", thread_id=comment,
        custom={"private_reply": True, "comment_at": (NOW - timedelta(days=6)).isoformat()}))
    assert result.ok and len(sent_to(graph_api, {"comment_id": comment})) == 1


async def test_the_private_reply_names_the_psid_the_customer_will_answer_from(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    user = new_id()
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", recipient_id=user, text="Details.", custom={"private_reply": True}, thread_id=comment))
    (request,) = sent_to(graph_api, {"comment_id": comment})
    mid = graph_api.answers.id_for(request)
    assert result.ok and result.platform_message_id == mid and result.recipient_id == psid_of(mid) != user


async def test_a_private_reply_refused_for_now_is_retried_after_retry_after(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    graph_api.script("/me/messages", Scripted(429, {"error": {
        "message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException", "code": 613}},
        headers={"Retry-After": "11"}))
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", recipient_id=new_id(), text="Details.", custom={"private_reply": True}, thread_id=comment))
    assert not result.ok and not result.permanent and result.retry_after == 11 and "code 613" in result.error


def long_text(sentences: int = 100) -> str:
    return " ".join(f"Sentence number {i} is about our returns policy." for i in range(sentences))


async def test_a_retried_long_reply_starts_after_the_parts_already_delivered(graph_api, http):
    psid = new_id()
    channel = channel_for(facebook.PLATFORM, graph_api.url, http)
    graph_api.script("/me/messages", Scripted(200, {"recipient_id": psid, "message_id": f"m_{new_id()}"}),
                     Scripted(500, {"error": {"message": "An unexpected error has occurred.", "code": 2,
                                              "is_transient": True}}))
    first = await channel.send(delivery("facebook", recipient_id=psid, text=long_text()))
    assert not first.ok and not first.permanent and first.parts_sent == 1
    again = await channel.send(dataclasses.replace(delivery("facebook", recipient_id=psid, text=long_text()),
                                                   parts_sent=first.parts_sent))
    parts = [r.json["message"]["text"] for r in sent_to(graph_api, {"id": psid})]
    assert again.ok and again.parts_sent == 3 and len(parts) == 4
    assert parts[1] == parts[2] and " ".join(parts[:1] + parts[2:]) == long_text()


async def test_hiding_an_abusive_comment_sets_is_hidden(graph_api, http):
    comment = f"122154861349107313_{new_id()}"
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery(
        "facebook", recipient_id=new_id(), text="(comment hidden for moderation)", custom={"moderation": "hide"},
        is_public=True, thread_id=comment, author="system"))
    (request,) = graph_api.received(f"/v19.0/{comment}")
    assert request.json == {"is_hidden": True} and result.ok


async def test_a_429_is_retried_after_retry_after(graph_api, http):
    psid = new_id()
    graph_api.script("/me/messages", Scripted(429, {"error": {
        "message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException", "code": 613,
        "fbtrace_id": "AbCdEf"}}, headers={"Retry-After": "7"}))
    channel = channel_for(facebook.PLATFORM, graph_api.url, http)
    result = await channel.send(delivery("facebook", recipient_id=psid, text="hi"))
    assert not result.ok and not result.permanent and result.retry_after == 7 and "code 613" in result.error
    assert (await channel.send(delivery("facebook", recipient_id=psid, text="hi"))).ok
    assert len(sent_to(graph_api, {"id": psid})) == 2


@pytest.mark.parametrize("body, readable", [
    ({"error": {"message": "(#10) This message is sent outside of allowed window.", "type": "OAuthException",
                "code": 10, "error_subcode": 2018278, "fbtrace_id": "A1b2C3"}},
     "code 10, subcode 2018278"),
    ({"error": {"message": "(#551) This person isn't available right now.", "type": "OAuthException", "code": 551,
                "error_subcode": 1545041, "fbtrace_id": "D4e5F6"}},
     "This person isn't available right now."),
])
async def test_a_permanent_error_fails_for_good_with_the_reason(graph_api, http, body, readable):
    psid = new_id()
    graph_api.script("/me/messages", Scripted(400, body))
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery("facebook", recipient_id=psid,
                                                                              text="hi"))
    assert not result.ok and result.permanent and readable in result.error


async def test_a_transient_graph_error_and_an_unreachable_api_are_retried(graph_api, http):
    graph_api.script("/me/messages", Scripted(500, {"error": {
        "message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException",
        "is_transient": True, "code": 2, "fbtrace_id": "G7h8I9"}}))
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(delivery("facebook", recipient_id=new_id(),
                                                                              text="hi"))
    assert not result.ok and not result.permanent
    unreachable = channel_for(facebook.PLATFORM, http=http)
    result = await unreachable.send(delivery("facebook", recipient_id=new_id(), text="hi"))
    assert not result.ok and not result.permanent and "unreachable" in result.error


async def test_a_reply_with_nothing_to_show_fails_without_calling_the_api(graph_api, http):
    before = len(graph_api.received())
    result = await channel_for(facebook.PLATFORM, graph_api.url, http).send(
        delivery("facebook", recipient_id=new_id(), custom={"data": {}}))
    assert result.permanent and len(graph_api.received()) == before


# -- 4. the running service ------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(start_service, graph_api):
    return start_service(**SETTINGS, META_GRAPH_URL=f"{graph_api.url}/v19.0", OUTBOX_BACKOFF_BASE="0.05",
                         OUTBOX_BACKOFF_MAX="0.5", POLL_INTERVAL="0.1")


def messenger_body(*messages: tuple[str, str, str]) -> bytes:
    """A page webhook with one entry per (sender, mid, text)."""
    return json.dumps({"object": "page", "entry": [
        {"id": PAGE_ID, "time": 1717580123456, "messaging": [{
            "sender": {"id": sender}, "recipient": {"id": PAGE_ID}, "timestamp": 1717580123012,
            "message": {"mid": mid, "text": text}}]}
        for sender, mid, text in messages]}).encode()


def comment_body(sender: str, comment: str, text: str) -> bytes:
    fixture = json.loads((FIXTURES / "facebook" / "feed_comment_add.json").read_text())
    value = fixture["entry"][0]["changes"][0]["value"]
    value.update(comment_id=comment, message=text, **{"from": {"id": sender, "name": f"Customer {sender}"}})
    return json.dumps(fixture).encode()


async def deliver(service, body: bytes, headers: dict[str, str] | None = None, channel: str = "facebook") -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/{channel}/webhook", data=body,
                             headers=headers if headers is not None else signed(body)) as response:
            return {**(await response.json()), "http_status": response.status}


async def wait_for_sends(graph_api: FakePlatform, match, count: int = 1, timeout: float = 60) -> list[Recorded]:
    await asyncio.to_thread(graph_api.wait_for, lambda got: len([r for r in got if match(r)]) >= count, timeout)
    return [r for r in graph_api.received() if match(r)]


def bot_statuses(service, sender: str, channel: str = "facebook") -> list[str]:
    transcript = cli_json(service.env["DATABASE_URL"], "transcript", "--channel", channel, "--sender", sender)
    return [m["delivery_status"] for m in transcript["conversations"][0]["messages"] if m["author"] == "bot"]


async def wait_until(condition, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(condition):
        assert asyncio.get_running_loop().time() < deadline, "the condition did not become true in time"
        await asyncio.sleep(0.5)


def to(recipient: dict):
    return lambda r: r.path.endswith("/me/messages") and r.json["recipient"] == recipient


@pytest.mark.slow
async def test_the_running_service_answers_the_handshake_and_is_configured(service):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{service.url}/webhooks/facebook/webhook", params={
                "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8734201"}) as response:
            assert response.status == 200 and await response.text() == "8734201"
        async with http.get(f"{service.url}/webhooks/facebook/webhook", params={
                "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "8734201"}) as response:
            assert response.status == 403
    health = await asyncio.to_thread(service.health)
    assert health["channels"]["facebook"] == "configured"


@pytest.mark.slow
async def test_a_messenger_text_gets_the_rasa_answer_and_its_delivery_receipt_is_recorded(service, graph_api):
    psid, mid = new_id(), f"m_{new_id()}"
    assert (await deliver(service, messenger_body((psid, mid, "what are your opening hours?"))))["accepted"] == 1
    (reply,) = await wait_for_sends(graph_api, to({"id": psid}))
    assert reply.headers["Authorization"] == f"Bearer {PAGE_TOKEN}" and reply.json["messaging_type"] == "RESPONSE"
    assert opening_hours_in(reply.json["message"]["text"])

    sent_mid = graph_api.answers.id_for(reply)
    # The receipt can only match once the outbox has recorded the mid it was answered.
    await wait_until(lambda: bot_statuses(service, psid) == ["sent"])
    receipt = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1717580900412, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": 1717580900400,
        "delivery": {"mids": [sent_mid], "watermark": 1717580899990}}]}]}).encode()
    assert (await deliver(service, receipt))["http_status"] == 200
    assert bot_statuses(service, psid) == ["delivered"]


@pytest.mark.slow
async def test_a_redelivered_batch_is_answered_once(service, graph_api):
    first, second = new_id(), new_id()
    body = messenger_body((first, f"m_{new_id()}", "do you ship internationally?"),
                          (second, f"m_{new_id()}", "what are your opening hours?"))
    answers = await asyncio.gather(deliver(service, body), deliver(service, body))
    assert [a["http_status"] for a in answers] == [200, 200] and sum(a["accepted"] for a in answers) == 2
    assert (await deliver(service, body))["duplicates"] == 2
    await wait_for_sends(graph_api, to({"id": first}))
    await wait_for_sends(graph_api, to({"id": second}))
    await asyncio.sleep(1.5)
    assert len(sent_to(graph_api, {"id": first})) == 1 and len(sent_to(graph_api, {"id": second})) == 1


@pytest.mark.slow
async def test_a_forged_webhook_gets_403_and_nothing_is_answered(service, graph_api):
    psid = new_id()
    body = messenger_body((psid, f"m_{new_id()}", "what are your opening hours?"))
    assert (await deliver(service, body, signed(body, secret="not-the-app-secret")))["http_status"] == 403
    assert (await deliver(service, body, {"Content-Type": "application/json"}))["http_status"] == 403
    await asyncio.sleep(1.5)
    assert sent_to(graph_api, {"id": psid}) == []


@pytest.mark.slow
async def test_a_routine_comment_gets_a_public_reply_and_the_answer_privately(service, graph_api):
    user, comment = new_id(), f"122154861349107313_{new_id()}"
    assert (await deliver(service, comment_body(user, comment, "what are your opening hours?")))["accepted"] == 1
    (public,) = await wait_for_sends(graph_api, lambda r: r.path == f"/v19.0/{comment}/comments")
    (private,) = await wait_for_sends(graph_api, to({"comment_id": comment}))
    assert public.json == {"message": PUBLIC_ROUTINE}
    assert opening_hours_in(private.json["message"]["text"])
    await asyncio.sleep(1)
    assert len(graph_api.received(f"/{comment}/comments")) == 1
    assert len(sent_to(graph_api, {"comment_id": comment})) == 1


@pytest.mark.slow
async def test_a_complaint_comment_gets_empathy_in_public_and_is_queued(service, graph_api):
    user, comment = new_id(), f"122154861349107313_{new_id()}"
    complaint = "this is the worst service ever, my parcel arrived broken and nobody answers"
    assert (await deliver(service, comment_body(user, comment, complaint)))["accepted"] == 1
    (public,) = await wait_for_sends(graph_api, lambda r: r.path == f"/v19.0/{comment}/comments")
    (private,) = await wait_for_sends(graph_api, to({"comment_id": comment}))
    assert public.json == {"message": PUBLIC_COMPLAINT}
    # The worker may add when the team is around (business hours) after the fixed apology.
    assert private.json["message"]["text"].startswith(PRIVATE_COMPLAINT)
    queue = {row["customer"]: row for row in cli_json(service.env["DATABASE_URL"], "queue")}
    waiting = queue[f"Customer {user}"]  # the queue shows the name the comment came with
    assert waiting["status"] == "queued" and waiting["public"] and waiting["priority"] >= 100
    assert waiting["channel"] == "facebook"


@pytest.mark.slow
async def test_an_abusive_comment_is_never_answered_and_goes_to_a_person(service, graph_api):
    user, comment = new_id(), f"122154861349107313_{new_id()}"
    abuse = "you are all idiots, my order is two weeks late"
    assert (await deliver(service, comment_body(user, comment, abuse)))["accepted"] == 1
    await wait_until(lambda: f"Customer {user}" in {r["customer"] for r in cli_json(service.env["DATABASE_URL"],
                                                                                      "queue")})
    waiting = {r["customer"]: r for r in cli_json(service.env["DATABASE_URL"], "queue")}[f"Customer {user}"]
    assert waiting["reason"] == "abuse" and waiting["public"] and waiting["priority"] >= 100
    await asyncio.sleep(1.5)
    assert graph_api.received(f"/{comment}") == []  # no public reply, no private reply, not hidden
    assert sent_to(graph_api, {"comment_id": comment}) == []


# -- 5. an agent answering through the running service -----------------------------------------

COMPLAINT = "this is the worst service ever, my parcel arrived broken and nobody answers"


@pytest.fixture(scope="module")
def agent_password(service) -> str:
    """An agent account, made the way an admin makes one: with the CLI."""
    return add_account(service.env["DATABASE_URL"], "sam", "agent")


class Console:
    """The agent console's JSON API, as the console page calls it (session cookie + CSRF)."""

    def __init__(self, service, http: aiohttp.ClientSession, csrf: str) -> None:
        self.url, self.http, self.csrf = f"{service.url}/console/api", http, csrf

    async def get(self, path: str) -> dict:
        async with self.http.get(f"{self.url}{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: dict | None = None) -> dict:
        async with self.http.post(f"{self.url}{path}", json=body or {},
                                  headers={"X-CSRF-Token": self.csrf}) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def waiting(self, customer: str, timeout: float = 60) -> int:
        """The id of the customer's conversation once it waits in the queue."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = (await self.get("/queue"))["waiting"]
            if found := next((row["id"] for row in rows if row["customer"] == customer), None):
                return found
            assert asyncio.get_running_loop().time() < deadline, f"{customer} is not in the queue"
            await asyncio.sleep(0.3)

    async def message(self, conversation: int, condition, timeout: float = 60) -> dict:
        """The conversation's first message that meets `condition`, once there is one."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            messages = (await self.get(f"/conversations/{conversation}"))["messages"]
            if found := next((m for m in messages if condition(m)), None):
                return found
            assert asyncio.get_running_loop().time() < deadline, f"no such message in {messages}"
            await asyncio.sleep(0.3)

    async def settled(self, conversation: int, timeout: float = 60) -> None:
        """Once every reply recorded in the conversation has been sent."""
        deadline = asyncio.get_running_loop().time() + timeout
        while any(m["direction"] == "out" and m["delivery_status"] != "sent"
                  for m in (await self.get(f"/conversations/{conversation}"))["messages"]):
            assert asyncio.get_running_loop().time() < deadline, "replies still unsent"
            await asyncio.sleep(0.3)

    async def reply(self, conversation: int, text: str) -> int:
        return (await self.post(f"/conversations/{conversation}/reply", {"text": text}))["message_id"]


@pytest.fixture
async def console(service, agent_password):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{service.url}/console/login") as response:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        async with http.post(f"{service.url}/console/login", allow_redirects=False,
                             data={"csrf_token": csrf, "name": "sam", "password": agent_password}) as response:
            assert response.status == 303, await response.text()
        async with http.get(f"{service.url}/console/") as response:
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', await response.text()).group(1)
        yield Console(service, http, csrf)


@pytest.mark.slow
async def test_an_agents_answer_to_a_public_complaint_is_the_private_reply_to_the_comment(service, graph_api,
                                                                                          console):
    user = new_id()
    first, second = f"122154861349107313_{new_id()}", f"122154861349107313_{new_id()}"
    assert (await deliver(service, comment_body(user, first, COMPLAINT)))["accepted"] == 1
    await wait_for_sends(graph_api, to({"comment_id": first}))  # the bot's private reply: that comment had its one
    conversation = await console.waiting(f"Customer {user}")
    assert (await deliver(service, comment_body(user, second, "still waiting for an answer about my parcel")))[
        "accepted"] == 1
    await console.message(conversation, lambda m: m["direction"] == "in" and m["text"].startswith("still waiting"))
    await console.post(f"/conversations/{conversation}/claim")

    answer = "Hi, I'm Sam from Northwind. I'm sorry about the parcel: could you send me your order number?"
    sent_id = await console.reply(conversation, answer)
    (private,) = await wait_for_sends(graph_api, to({"comment_id": second}))
    assert private.json == {"recipient": {"comment_id": second}, "message": {"text": answer}}
    assert sent_to(graph_api, {"id": user}) == []  # never a message to the id the comments came from
    await console.message(conversation, lambda m: m["id"] == sent_id and m["delivery_status"] == "sent")

    # The comment has had its private reply and the customer has not written privately
    # (a comment opens no 24-hour window): the next reply cannot go, and the agent sees why.
    refused_id = await console.reply(conversation, "Are you still there?")
    refused = await console.message(conversation, lambda m: m["id"] == refused_id)
    assert refused["delivery_status"] == "failed" and "one private reply" in refused["error"]

    # The customer answers in Messenger, from the PSID Meta named for the private reply:
    # it lands in the agent's conversation, and the agent's answer is an ordinary message.
    psid = psid_of(graph_api.answers.id_for(private))
    assert (await deliver(service, messenger_body((psid, f"m_{new_id()}", "it's order 482913"))))["accepted"] == 1
    await console.message(conversation, lambda m: m["direction"] == "in" and m["text"] == "it's order 482913")
    await console.reply(conversation, "Thank you! A new parcel leaves today.")
    (dm,) = await wait_for_sends(graph_api, to({"id": psid}))
    assert dm.json == {"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                       "message": {"text": "Thank you! A new parcel leaves today."}}
    await asyncio.sleep(1)
    assert len(sent_to(graph_api, {"id": psid})) == 1  # the bot stayed silent: a person has the conversation
    assert len(sent_to(graph_api, {"comment_id": second})) == 1


@pytest.mark.slow
async def test_a_long_reply_whose_second_part_fails_once_reaches_the_customer_once_in_order(service, graph_api,
                                                                                           console):
    psid = new_id()
    assert (await deliver(service, messenger_body((psid, f"m_{new_id()}", "I want to talk to a human"))))[
        "accepted"] == 1
    conversation = await console.waiting(psid)
    await console.settled(conversation)  # the bot's word that a person will answer has gone
    await console.post(f"/conversations/{conversation}/claim")
    before = len(sent_to(graph_api, {"id": psid}))

    graph_api.script("/me/messages", Scripted(200, {"recipient_id": psid, "message_id": f"m_{new_id()}"}),
                     Scripted(500, {"error": {"message": "An unexpected error has occurred. Please retry your "
                                                         "request later.", "type": "OAuthException", "code": 2,
                                              "is_transient": True}}))
    text = long_text(60)  # about 2,900 characters: two messages on Messenger
    reply_id = await console.reply(conversation, text)
    await console.message(conversation, lambda m: m["id"] == reply_id and m["delivery_status"] == "sent")
    await asyncio.sleep(1)
    calls = [r.json["message"]["text"] for r in sent_to(graph_api, {"id": psid})[before:]]
    assert len(calls) == 3 and calls[1] == calls[2]  # the second part, refused once, then delivered
    delivered = [calls[0], calls[2]]
    assert all(len(part) <= 2000 for part in delivered) and " ".join(delivered) == text


# -- fields of the wrong type (found by `make fuzz`): read as absent, never a 500 ---------------

@pytest.mark.parametrize("name, path, value", [
    ("message_text", ("entry",), 9007199254740993),
    ("message_text", ("entry",), True),
    ("feed_comment_add", ("entry", 0, "changes", 0, "value", "from", "name"), {"first": "Jonas"}),
])
def test_a_field_of_the_wrong_type_is_read_as_absent(name, path, value):
    body = with_value("facebook", name, path, value)
    assert well_typed(channel_for(facebook.PLATFORM).parse(post_request(body, signed(body))))


@pytest.mark.parametrize("sender", [[{"id": "1"}], {"id": "1"}, True, None])
@pytest.mark.parametrize("fixture", ["message_text", "postback"])
def test_a_sender_id_that_is_no_string_or_number_is_no_sender(fixture, sender):
    """str() made "[{'id': '1'}]" a customer (found by `make fuzz`)."""
    delivery = json.loads((FIXTURES / "facebook" / f"{fixture}.json").read_text())
    delivery["entry"][0]["messaging"][0]["sender"]["id"] = sender
    body = json.dumps(delivery).encode()
    parsed = channel_for(facebook.PLATFORM).parse(post_request(body, signed(body)))
    assert [p for p in parsed if isinstance(p, IncomingMessage)] == []
