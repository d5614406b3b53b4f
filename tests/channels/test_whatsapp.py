"""WhatsApp Cloud API: parsing every fixture, Meta's signature and handshake, sends against a
fake Graph API, and the running service answering customers end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import random
import threading
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.inbox import Inbox
from bot.messages import Button, OutgoingMessage
from bot.settings import Settings
from bot.storage import inbox as inbox_store
from bot.webhooks import channel_routes
from channels.base import Delivery, WebhookRejected, WebhookRequest
from channels.meta import signature
from channels.whatsapp import WINDOW_CLOSED, WhatsAppChannel, plan
from tests.support.client import cli_json, responses
from tests.support.fake_platform import FakePlatform, Recorded, Scripted
from tests.support.payloads import expected, fixture_names, normalised, payload, well_typed, with_value

PLATFORM_MAX_BODY = Settings().platform_max_body_bytes

APP_SECRET = "test-meta-app-secret"
VERIFY_TOKEN = "test-verify-token"
TOKEN = "test-whatsapp-access-token"
PHONE = "106540352242922"
SETTINGS = {"META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_ACCESS_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE}
NOW = datetime(2026, 6, 9, 12, 0, tzinfo=timezone.utc)


def channel_for(graph_url: str = "http://127.0.0.1:9", now: datetime = NOW) -> WhatsAppChannel:
    settings = Settings.from_mapping({**SETTINGS, "META_GRAPH_URL": graph_url})
    return WhatsAppChannel(settings, HttpClient(5), clock=lambda: now)


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret, body)}


def post_request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


# -- 1. parsing: every fixture against its declared expectation ------------------------------

@pytest.mark.parametrize("name", fixture_names("whatsapp"))
def test_every_fixture_parses_to_its_declared_result(name):
    body = payload("whatsapp", name)
    parsed = channel_for().parse(post_request(body, signed(body)))
    assert [normalised(p) for p in parsed] == expected("whatsapp", name)


def test_there_are_fixtures_for_every_kind_of_change():
    assert {"text", "button_reply", "list_reply", "template_quick_reply", "image", "sticker", "voice", "location",
            "reaction", "unsupported", "statuses_delivered_read", "status_failed_reengagement", "batch",
            "other_phone_number", "template_status_update"} <= set(fixture_names("whatsapp"))


def test_a_redelivered_webhook_gives_the_same_wamids():
    body = payload("whatsapp", "batch")
    first = channel_for().parse(post_request(body, signed(body)))
    again = channel_for().parse(post_request(body, signed(body)))
    assert [getattr(m, "message_id", None) for m in first] == [getattr(m, "message_id", None) for m in again]
    assert all(m.message_id.startswith("wamid.") for m in first if hasattr(m, "message_id"))


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing"),
    ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "does not match"),
    ({"X-Hub-Signature-256": signature("another-secret", payload("whatsapp", "text"))}, "does not match"),
])
def test_a_missing_or_forged_signature_is_refused_with_403(headers, reason):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(payload("whatsapp", "text"), headers))
    assert rejected.value.status == 403 and reason in rejected.value.reason


def test_a_signature_over_another_body_is_refused():
    body = payload("whatsapp", "text")
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(body.replace(b"opening hours", b"refund policy"), signed(body)))
    assert rejected.value.status == 403


@pytest.mark.parametrize("body, reason", [(b"{oops", "malformed JSON"), (b"[1, 2]", "JSON object")])
def test_a_signed_but_malformed_body_is_a_400(body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(body, signed(body)))
    assert rejected.value.status == 400 and reason in rejected.value.reason


def test_the_handshake_echoes_the_challenge_only_for_our_verify_token():
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    answer = channel_for().handshake(WebhookRequest("GET", {}, query, b""))
    assert answer.status == 200 and answer.body == "1158201444"
    for wrong, status in (({"hub.verify_token": "guess"}, 403), ({"hub.mode": "unsubscribe"}, 400)):
        with pytest.raises(WebhookRejected) as rejected:
            channel_for().handshake(WebhookRequest("GET", {}, {**query, **wrong}, b""))
        assert rejected.value.status == status


def test_without_credentials_the_channel_names_the_missing_settings():
    channel = WhatsAppChannel(Settings.from_mapping({}), HttpClient(1))
    assert channel.missing_settings == ("META_APP_SECRET", "META_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN",
                                        "WHATSAPP_PHONE_NUMBER_ID")
    assert channel_for().missing_settings == ()


async def test_a_forged_webhook_stores_nothing_and_a_signed_one_is_stored(db):
    app = web.Application()
    app.router.add_routes(channel_routes(channel_for(), Inbox(db, LocalBus()), PLATFORM_MAX_BODY))
    body = payload("whatsapp", "text")
    async with TestClient(TestServer(app)) as client:
        for headers in ({"Content-Type": "application/json"}, signed(body, secret="not-the-secret")):
            refused = await client.post("/webhooks/whatsapp/webhook", data=body, headers=headers)
            assert refused.status == 403
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 0
        accepted = await client.post("/webhooks/whatsapp/webhook", data=body, headers=signed(body))
        assert accepted.status == 200 and (await accepted.json())["accepted"] == 1
        again = await client.post("/webhooks/whatsapp/webhook", data=body, headers=signed(body))
        assert (await again.json()) == {"status": "ok", "accepted": 0, "duplicates": 1}
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 1


async def test_an_unconfigured_whatsapp_webhook_is_refused_with_403_naming_the_settings(db):
    channel = WhatsAppChannel(Settings.from_mapping({"META_APP_SECRET": APP_SECRET}), HttpClient(1))
    app = web.Application()
    app.router.add_routes(channel_routes(channel, Inbox(db, LocalBus()), PLATFORM_MAX_BODY))
    async with TestClient(TestServer(app)) as client:
        body = payload("whatsapp", "text")
        refused = await client.post("/webhooks/whatsapp/webhook", data=body, headers=signed(body))
        assert refused.status == 403
        assert "WHATSAPP_ACCESS_TOKEN" in (await refused.json())["error"]


# -- 2. mapping replies to Cloud API messages (pure) -------------------------------------------

def reply(**fields) -> OutgoingMessage:
    return OutgoingMessage(channel="whatsapp", recipient_id="16505551234", **fields)


def test_a_text_is_one_text_message():
    assert plan(reply(text="We're open 9 to 6.")) == [{"type": "text", "text": {"body": "We're open 9 to 6."}}]


def test_up_to_three_buttons_are_reply_buttons_with_short_titles_and_payload_ids():
    (body,) = plan(reply(text="How can I help?", buttons=(
        Button("Track my order", "/order_status"), Button("Returns and exchanges policy", "/returns_policy"))))
    assert body == {"type": "interactive", "interactive": {
        "type": "button", "body": {"text": "How can I help?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "/order_status", "title": "Track my order"}},
            {"type": "reply", "reply": {"id": "/returns_policy", "title": "Returns and exchang…"}}]}}}
    assert len(body["interactive"]["action"]["buttons"][1]["reply"]["title"]) == 20


def test_four_to_ten_buttons_are_a_list_and_more_are_cut_at_ten():
    buttons = tuple(Button(f"Option number {i} with a long title", f"/choose{{\"n\": {i}}}") for i in range(12))
    (body,) = plan(reply(text="Pick one", buttons=buttons))
    interactive = body["interactive"]
    assert interactive["type"] == "list" and interactive["body"] == {"text": "Pick one"}
    (section,) = interactive["action"]["sections"]
    assert len(interactive["action"]["button"]) <= 20 and len(section["rows"]) == 10
    assert section["rows"][0] == {"id": '/choose{"n": 0}', "title": "Option number 0 with a…",
                                  "description": "Option number 0 with a long title"}
    assert all(len(row["title"]) <= 24 for row in section["rows"])


def test_a_payload_too_long_for_an_id_comes_back_as_the_title():
    (body,) = plan(reply(text="?", buttons=(Button("Yes", "/affirm" + "x" * 300),)))
    assert body["interactive"]["action"]["buttons"][0]["reply"] == {"id": "Yes", "title": "Yes"}


def test_an_image_carries_a_short_text_as_caption():
    assert plan(reply(text="Our size guide", image="https://cdn.example.com/size-guide.png")) == [
        {"type": "image", "image": {"link": "https://cdn.example.com/size-guide.png", "caption": "Our size guide"}}]
    assert plan(reply(image="https://cdn.example.com/a.png")) == [
        {"type": "image", "image": {"link": "https://cdn.example.com/a.png"}}]


def test_a_long_text_with_buttons_is_split_and_the_buttons_come_with_the_last_short_piece():
    sentences = [f"Sentence number {i} is about our returns policy." for i in range(200)]
    bodies = plan(reply(text=" ".join(sentences), buttons=(Button("Talk to a person", "/request_human"),),
                        image="https://cdn.example.com/a.png"))
    texts = [b["text"]["body"] for b in bodies if b["type"] == "text"]
    interactive = [b["interactive"] for b in bodies if b["type"] == "interactive"]
    assert [b["type"] for b in bodies][-2:] == ["interactive", "image"] and len(interactive) == 1
    assert all(len(t) <= 4096 for t in texts) and len(interactive[0]["body"]["text"]) <= 1024
    assert " ".join(texts + [interactive[0]["body"]["text"]]) == " ".join(sentences)


def test_buttons_without_text_still_get_a_body():
    (body,) = plan(reply(buttons=(Button("Yes", "/affirm"),)))
    assert body["interactive"]["body"]["text"]


# -- 3. sending, against a fake Graph API on loopback ---------------------------------------

class GraphApi:
    """Answers like the Cloud API's /messages endpoint and remembers the wamids it issued."""

    def __init__(self) -> None:
        self.issued: list[tuple[str, str]] = []  # (recipient, wamid)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def __call__(self, recorded: Recorded) -> tuple[int, dict]:
        if not recorded.path.endswith(f"/{PHONE}/messages"):
            return 400, {"error": {"message": "Unsupported post request.", "type": "GraphMethodException",
                                   "code": 100, "error_subcode": 33, "fbtrace_id": "AbC"}}
        to = recorded.json["to"]
        with self._lock:
            wamid = f"wamid.HBgL{to}FQIAERgS{next(self._ids):012d}AA=="
            self.issued.append((to, wamid))
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                     "messages": [{"id": wamid}]}


@pytest.fixture(scope="module")
def graph():
    answers = GraphApi()
    server = FakePlatform(default=answers).start()
    server.answers = answers
    yield server
    server.stop()


def new_wa_id() -> str:
    return str(random.randrange(10 ** 10, 10 ** 11))


def delivery(last_message_at: datetime | None = NOW - timedelta(minutes=5), **fields) -> Delivery:
    return Delivery(OutgoingMessage(channel="whatsapp", **fields), history_id=1, idempotency_key="k-1",
                    customer_last_message_at=last_message_at)


def sent_to(graph, wa_id: str) -> list[Recorded]:
    return [r for r in graph.received(f"/{PHONE}/messages") if r.json and r.json.get("to") == wa_id]


async def test_a_text_goes_to_the_phone_numbers_messages_with_the_bearer_token(graph):
    wa_id = new_wa_id()
    result = await channel_for(f"{graph.url}/v19.0").send(delivery(recipient_id=wa_id, text="We're open 9 to 6."))
    (request,) = sent_to(graph, wa_id)
    assert request.method == "POST" and request.path == f"/v19.0/{PHONE}/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id,
                            "type": "text", "text": {"body": "We're open 9 to 6."}}
    assert result.ok and result.platform_message_id == dict(graph.answers.issued)[wa_id]


async def test_buttons_and_a_list_are_sent_as_interactive_messages(graph):
    wa_id = new_wa_id()
    channel = channel_for(graph.url)
    await channel.send(delivery(recipient_id=wa_id, text="How can I help?",
                                buttons=(Button("Track my order", "/order_status"),)))
    await channel.send(delivery(recipient_id=wa_id, text="Which size?",
                                buttons=tuple(Button(s, f'/inform{{"size": "{s}"}}') for s in "XS S M L XL".split())))
    first, second = sent_to(graph, wa_id)
    assert first.json["type"] == second.json["type"] == "interactive"
    assert first.json["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "/order_status", "title": "Track my order"}}]
    assert second.json["interactive"]["type"] == "list"
    assert [r["title"] for r in second.json["interactive"]["action"]["sections"][0]["rows"]] == ["XS", "S", "M", "L",
                                                                                               "XL"]


async def test_a_long_text_is_sent_in_pieces_in_order(graph):
    wa_id = new_wa_id()
    sentences = [f"Sentence number {i} is about our returns policy." for i in range(200)]
    result = await channel_for(graph.url).send(delivery(recipient_id=wa_id, text=" ".join(sentences)))
    requests = sent_to(graph, wa_id)
    assert len(requests) == 3 and all(len(r.json["text"]["body"]) <= 4096 for r in requests)
    assert " ".join(r.json["text"]["body"] for r in requests) == " ".join(sentences)
    assert result.ok and result.platform_message_id == [i for to, i in graph.answers.issued if to == wa_id][-1]


@pytest.mark.parametrize("last_message_at", [NOW - timedelta(hours=24, seconds=1), None])
async def test_outside_the_24_hour_window_nothing_is_sent_and_the_agent_is_told(graph, last_message_at):
    wa_id = new_wa_id()
    result = await channel_for(graph.url).send(delivery(last_message_at, recipient_id=wa_id, text="Any news?"))
    assert not result.ok and result.permanent and result.error == WINDOW_CLOSED
    assert sent_to(graph, wa_id) == []


async def test_just_inside_the_window_the_reply_is_sent(graph):
    wa_id = new_wa_id()
    result = await channel_for(graph.url).send(delivery(NOW - timedelta(hours=23, minutes=59), recipient_id=wa_id,
                                                        text="Here you go."))
    assert result.ok and len(sent_to(graph, wa_id)) == 1


async def test_whatsapps_re_engagement_error_fails_for_good_with_the_window_explanation(graph):
    wa_id = new_wa_id()
    graph.script(f"/{PHONE}/messages", Scripted(400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
        "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 "
                       "hours have passed since the customer last replied to this number."},
        "fbtrace_id": "AXrq1c8hqH0vZz2iY6rQ7bD"}}))
    result = await channel_for(graph.url).send(delivery(recipient_id=wa_id, text="Any news?"))
    assert not result.ok and result.permanent and result.error.startswith(WINDOW_CLOSED)
    assert "131047" in result.error


async def test_a_rate_limit_is_retried_after_retry_after(graph):
    graph.script(f"/{PHONE}/messages", Scripted(429, {"error": {
        "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
        "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."},
        "fbtrace_id": "A1b2C3"}}, headers={"Retry-After": "9"}))
    result = await channel_for(graph.url).send(delivery(recipient_id=new_wa_id(), text="hi"))
    assert not result.ok and not result.permanent and result.retry_after == 9 and "130429" in result.error


async def test_a_pair_rate_limit_and_a_5xx_are_retried(graph):
    graph.script(f"/{PHONE}/messages",
                 Scripted(400, {"error": {"message": "(#131056) (Business Account, Consumer Account) pair rate "
                                          "limit hit", "type": "OAuthException", "code": 131056}}),
                 Scripted(503, "Service Unavailable"))
    for _ in range(2):
        result = await channel_for(graph.url).send(delivery(recipient_id=new_wa_id(), text="hi"))
        assert not result.ok and not result.permanent


async def test_an_invalid_recipient_fails_for_good_with_the_reason(graph):
    graph.script(f"/{PHONE}/messages", Scripted(400, {"error": {
        "message": "(#131030) Recipient phone number not in allowed list", "type": "OAuthException",
        "code": 131030, "error_data": {"messaging_product": "whatsapp",
                                       "details": "Recipient phone number not in allowed list"}}}))
    result = await channel_for(graph.url).send(delivery(recipient_id=new_wa_id(), text="hi"))
    assert not result.ok and result.permanent and "Recipient phone number not in allowed list" in result.error


def wamid_answer(wa_id: str) -> dict:
    return {"messaging_product": "whatsapp", "contacts": [{"input": wa_id, "wa_id": wa_id}],
            "messages": [{"id": f"wamid.HBgL{wa_id}FQIAERgSQUFBQkJC{random.randrange(10 ** 6)}AA=="}]}


async def test_a_retried_reply_of_several_messages_starts_after_those_delivered(graph):
    wa_id = new_wa_id()
    reply = dict(recipient_id=wa_id, text="How can I help?", image="https://cdn.example.com/size-guide.png",
                 buttons=(Button("Track my order", "/order_status"),))
    graph.script(f"/{PHONE}/messages", Scripted(200, wamid_answer(wa_id)), Scripted(503, "Service Unavailable"))
    first = await channel_for(graph.url).send(delivery(**reply))
    assert not first.ok and not first.permanent and first.parts_sent == 1
    again = await channel_for(graph.url).send(dataclasses.replace(delivery(**reply), parts_sent=first.parts_sent))
    assert again.ok and again.parts_sent == 2
    assert [r.json["type"] for r in sent_to(graph, wa_id)] == ["interactive", "image", "image"]


async def test_the_re_engagement_error_on_a_later_message_keeps_what_was_delivered(graph):
    wa_id = new_wa_id()
    graph.script(f"/{PHONE}/messages", Scripted(200, wamid_answer(wa_id)), Scripted(400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047}}))
    result = await channel_for(graph.url).send(delivery(
        recipient_id=wa_id, text="How can I help?", image="https://cdn.example.com/size-guide.png",
        buttons=(Button("Track my order", "/order_status"),)))
    assert result.permanent and result.error.startswith(WINDOW_CLOSED) and result.parts_sent == 1


async def test_an_unreachable_graph_api_is_retried():
    result = await channel_for("http://127.0.0.1:9").send(delivery(recipient_id="1", text="hi"))
    assert not result.ok and not result.permanent and "unreachable" in result.error


async def test_a_reply_with_nothing_to_show_fails_without_calling_the_api(graph):
    before = len(graph.received())
    result = await channel_for(graph.url).send(delivery(recipient_id=new_wa_id(), custom={"data": {}}))
    assert result.permanent and len(graph.received()) == before


# -- 4. the running service ------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(start_service, graph):
    return start_service(**SETTINGS, META_GRAPH_URL=f"{graph.url}/v19.0", OUTBOX_BACKOFF_BASE="0.05",
                         OUTBOX_BACKOFF_MAX="0.5", POLL_INTERVAL="0.1")


def webhook(*values: dict) -> bytes:
    changes = [{"value": {"messaging_product": "whatsapp",
                          "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE}, **v},
                "field": "messages"} for v in values]
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "102290129340398", "changes": changes}]}).encode()


def text_from(wa_id: str, text: str, wamid: str | None = None) -> bytes:
    return webhook({"contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id}],
                    "messages": [{"from": wa_id, "id": wamid or f"wamid.{random.getrandbits(96):024x}",
                                  "timestamp": "1749416383", "type": "text", "text": {"body": text}}]})


def statuses(wa_id: str, *pairs: tuple[str, str]) -> bytes:
    return webhook({"statuses": [{"id": wamid, "status": status, "timestamp": "1749416390", "recipient_id": wa_id}
                                 for wamid, status in pairs]})


async def deliver(service, body: bytes, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/whatsapp/webhook", data=body,
                             headers=headers if headers is not None else signed(body)) as response:
            await response.read()
            return response


async def replies_to(graph, wa_id: str, count: int = 1, timeout: float = 120) -> list[Recorded]:
    await asyncio.to_thread(graph.wait_for, lambda got: len([r for r in got if r.json and r.json.get("to") == wa_id])
                            >= count, timeout)
    return sent_to(graph, wa_id)


def bot_messages(service, wa_id: str) -> list[dict]:
    transcript = cli_json(service.env["DATABASE_URL"], "transcript", "--channel", "whatsapp", "--sender", wa_id)
    return [m for m in transcript["conversations"][0]["messages"] if m["author"] == "bot"]


async def recorded_as_sent(service, wa_id: str, timeout: float = 30) -> None:
    """The fake API has the reply before the outbox records its wamid: wait for that, so the
    receipts that follow find the reply."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while [m["delivery_status"] for m in await asyncio.to_thread(bot_messages, service, wa_id)] != ["sent"]:
        assert loop.time() < deadline, "the reply was never recorded as sent"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_the_running_service_answers_the_handshake_and_says_it_is_configured(service):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{service.url}/webhooks/whatsapp/webhook", params=query) as response:
            assert response.status == 200 and await response.text() == "1158201444"
        async with http.get(f"{service.url}/webhooks/whatsapp/webhook",
                            params={**query, "hub.verify_token": "guess"}) as response:
            assert response.status == 403
    assert (await asyncio.to_thread(service.health))["channels"]["whatsapp"] == "configured"


@pytest.mark.slow
async def test_a_text_is_answered_and_receipts_reach_the_history(service, graph):
    wa_id = new_wa_id()
    assert (await deliver(service, text_from(wa_id, "what are your opening hours?"))).status == 200
    (answer,) = await replies_to(graph, wa_id)
    assert answer.headers["Authorization"] == f"Bearer {TOKEN}" and answer.json["type"] == "text"
    assert any(v and v in answer.json["text"]["body"] for v in responses()["utter_opening_hours"])
    wamid = dict(graph.answers.issued)[wa_id]
    await recorded_as_sent(service, wa_id)
    assert (await deliver(service, statuses(wa_id, (wamid, "delivered")))).status == 200
    assert [m["delivery_status"] for m in bot_messages(service, wa_id)] == ["delivered"]
    assert (await deliver(service, statuses(wa_id, (wamid, "read"), (wamid, "delivered")))).status == 200
    assert [m["delivery_status"] for m in bot_messages(service, wa_id)] == ["read"]


@pytest.mark.slow
async def test_a_greeting_gets_reply_buttons_and_a_failed_receipt_is_recorded(service, graph):
    wa_id = new_wa_id()
    assert (await deliver(service, text_from(wa_id, "hi"))).status == 200
    (answer,) = await replies_to(graph, wa_id)
    assert answer.json["type"] == "interactive" and answer.json["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in answer.json["interactive"]["action"]["buttons"]] == [
        "/order_status", "/returns_policy", "/request_human"]
    wamid = dict(graph.answers.issued)[wa_id]
    await recorded_as_sent(service, wa_id)
    failed = json.loads(statuses(wa_id, (wamid, "failed")))
    failed["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"] = [
        {"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
         "error_data": {"details": "Message Undeliverable."}}]
    assert (await deliver(service, json.dumps(failed).encode())).status == 200
    assert [m["delivery_status"] for m in bot_messages(service, wa_id)] == ["failed"]


@pytest.mark.slow
async def test_a_redelivered_message_is_answered_once(service, graph):
    wa_id = new_wa_id()
    body = text_from(wa_id, "do you ship internationally?")
    first, second = await asyncio.gather(deliver(service, body), deliver(service, body))
    assert first.status == second.status == 200
    assert (await deliver(service, body)).status == 200
    await replies_to(graph, wa_id)
    await asyncio.sleep(1.5)
    assert len(sent_to(graph, wa_id)) == 1


@pytest.mark.slow
async def test_a_sticker_gets_a_polite_text_and_a_forged_webhook_nothing(service, graph):
    wa_id, forged_wa_id = new_wa_id(), new_wa_id()
    sticker = json.loads(payload("whatsapp", "sticker"))
    message = sticker["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"from": wa_id, "id": f"wamid.{random.getrandbits(96):024x}"})
    assert (await deliver(service, json.dumps(sticker).encode())).status == 200
    forged = text_from(forged_wa_id, "what are your opening hours?")
    assert (await deliver(service, forged, signed(forged, secret="not-the-secret"))).status == 403
    (answer,) = await replies_to(graph, wa_id)
    assert "Thanks for the sticker" in answer.json["text"]["body"]
    await asyncio.sleep(1)
    assert sent_to(graph, forged_wa_id) == []


@pytest.mark.slow
async def test_another_numbers_messages_and_unknown_fields_are_acknowledged_and_ignored(service, graph):
    before = len(graph.received())
    for name in ("other_phone_number", "template_status_update"):
        body = payload("whatsapp", name)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{service.url}/webhooks/whatsapp/webhook", data=body,
                                 headers=signed(body)) as response:
                assert response.status == 200 and (await response.json())["accepted"] == 0
    await asyncio.sleep(1)
    assert len(graph.received()) == before


# -- fields of the wrong type (found by `make fuzz`): read as absent, never a 500 ---------------

VALUE = ("entry", 0, "changes", 0, "value")


@pytest.mark.parametrize("name, path, value", [
    ("text", (), {"object": "whatsapp_business_account", "entry": 5}),
    ("text", ("entry", 0, "changes"), 7),
    ("text", (*VALUE, "metadata"), ["106540352242922"]),
    ("text", (*VALUE, "messages"), 7),
    ("text", (*VALUE, "messages", 0, "text"), "Hi as a plain string"),
    ("text", (*VALUE, "contacts"), 1),
    ("text", (*VALUE, "contacts", 0, "profile", "name"), ["Sheena"]),
    ("image", (*VALUE, "messages", 0, "image"), ["an id"]),
    ("location", (*VALUE, "messages", 0, "location"), 5),
    ("button_reply", (*VALUE, "messages", 0, "interactive"), 3),
    ("template_quick_reply", (*VALUE, "messages", 0, "button"), "Yes"),
    ("status_sent", (*VALUE, "statuses", 0, "status"), ["sent"]),
    ("status_failed_undeliverable", (*VALUE, "statuses", 0, "errors"), 131026),
])
def test_a_field_of_the_wrong_type_is_read_as_absent(name, path, value):
    body = with_value("whatsapp", name, path, value)
    assert well_typed(channel_for().parse(post_request(body, signed(body))))
