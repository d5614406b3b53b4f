"""Telegram Bot API: parsing every fixture, the secret-token header, sends against a fake Bot
API, `python -m bot telegram set-webhook`, and the running service end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import random
import subprocess
import sys
import threading

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.inbox import Inbox
from bot.messages import Button, OutgoingMessage
from bot.settings import PROJECT_DIR, Settings
from bot.storage import inbox as inbox_store
from bot.webhooks import channel_routes
from channels.base import Delivery, WebhookRejected, WebhookRequest
from channels.telegram import ALLOWED_UPDATES, TelegramChannel, plan
from tests.support.client import cli_json, responses
from tests.support.fake_platform import FakePlatform, Recorded, Scripted
from tests.support.payloads import expected, fixture_names, normalised, payload, well_typed, with_value

PLATFORM_MAX_BODY = Settings().platform_max_body_bytes

TOKEN = "7088421967:AAH3kq-test-bot-token_0123456789abcd"
SECRET = "test-secret_token-42"
SETTINGS = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": SECRET}
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def channel_for(api_url: str = "http://127.0.0.1:9") -> TelegramChannel:
    return TelegramChannel(Settings.from_mapping({**SETTINGS, "TELEGRAM_API_URL": api_url}), HttpClient(5))


def with_secret(secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", HEADER: secret}


def post_request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


# -- 1. parsing: every fixture against its declared expectation ------------------------------

@pytest.mark.parametrize("name", fixture_names("telegram"))
def test_every_fixture_parses_to_its_declared_result(name):
    parsed = channel_for().parse(post_request(payload("telegram", name), with_secret()))
    assert [normalised(p) for p in parsed] == expected("telegram", name)


def test_there_are_fixtures_for_every_kind_of_update():
    assert {"text", "start", "edited_message", "callback_query", "photo", "sticker", "voice", "location",
            "group_message", "channel_post", "my_chat_member_blocked", "unknown_update",
            } <= set(fixture_names("telegram"))


def test_the_update_id_is_the_deduplication_key_of_every_update():
    for name in ("text", "edited_message", "callback_query"):
        data = json.loads(payload("telegram", name))
        (message,) = channel_for().parse(post_request(payload("telegram", name), with_secret()))
        assert message.message_id == str(data["update_id"])


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing"),
    ({HEADER: ""}, "missing"),
    ({HEADER: "guess"}, "does not match"),
    ({HEADER: SECRET + "x"}, "does not match"),
])
def test_a_missing_or_wrong_secret_token_is_refused_with_403(headers, reason):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(payload("telegram", "text"), headers))
    assert rejected.value.status == 403 and reason in rejected.value.reason


def test_the_secret_header_is_found_whatever_its_case():
    (message,) = channel_for().parse(post_request(payload("telegram", "text"), {HEADER.lower(): SECRET}))
    assert message.text == "Hi, what are your opening hours?"


@pytest.mark.parametrize("body, reason", [(b"{oops", "malformed JSON"), (b"[1]", "JSON object"),
                                          (b'{"message": {}}', "update_id")])
def test_a_malformed_update_is_a_400(body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        channel_for().parse(post_request(body, with_secret()))
    assert rejected.value.status == 400 and reason in rejected.value.reason


def test_there_is_no_handshake_and_the_settings_are_named_when_missing():
    assert channel_for().handshake(WebhookRequest("GET", {}, {}, b"")) is None
    assert TelegramChannel(Settings.from_mapping({}), HttpClient(1)).missing_settings == (
        "TELEGRAM_BOT_TOKEN", "TELEGRAM_SECRET_TOKEN")
    assert channel_for().missing_settings == ()


async def test_a_wrong_secret_stores_nothing_and_the_right_one_stores_the_update_once(db):
    app = web.Application()
    app.router.add_routes(channel_routes(channel_for(), Inbox(db, LocalBus()), PLATFORM_MAX_BODY))
    body = payload("telegram", "text")
    async with TestClient(TestServer(app)) as client:
        for headers in ({"Content-Type": "application/json"}, with_secret("guess")):
            assert (await client.post("/webhooks/telegram/webhook", data=body, headers=headers)).status == 403
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 0
        for _ in range(2):
            assert (await client.post("/webhooks/telegram/webhook", data=body, headers=with_secret())).status == 200
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 1


# -- 2. mapping replies to Bot API calls (pure) -------------------------------------------------

def reply(**fields) -> OutgoingMessage:
    return OutgoingMessage(channel="telegram", recipient_id="6215479032", **fields)


def test_buttons_become_an_inline_keyboard_one_button_a_row():
    assert plan(reply(text="How can I help?", buttons=(Button("Track my order", "/order_status"),
                                                         Button("Returns", "/returns_policy")))) == [
        ("sendMessage", {"text": "How can I help?", "reply_markup": {"inline_keyboard": [
            [{"text": "Track my order", "callback_data": "/order_status"}],
            [{"text": "Returns", "callback_data": "/returns_policy"}]]}})]


def test_a_payload_over_64_bytes_falls_back_to_the_title():
    long = '/inform{"product": "' + "ü" * 40 + '"}'
    ((_, body),) = plan(reply(text="?", buttons=(Button("Wool socks", long), Button("ö" * 40, long))))
    (first,), (second,) = body["reply_markup"]["inline_keyboard"]
    assert first["callback_data"] == "Wool socks"
    assert len(second["callback_data"].encode()) <= 64 and second["callback_data"] == "ö" * 32


def test_an_image_carries_a_short_text_as_caption_and_follows_a_long_one():
    assert plan(reply(text="Our size guide", image="https://cdn.example.com/size.png")) == [
        ("sendPhoto", {"photo": "https://cdn.example.com/size.png", "caption": "Our size guide"})]
    calls = plan(reply(text="word " * 300, image="https://cdn.example.com/size.png",
                       buttons=(Button("Yes", "/affirm"),)))
    assert [method for method, _ in calls] == ["sendMessage", "sendPhoto"]
    assert "reply_markup" in calls[-1][1] and "reply_markup" not in calls[0][1]


def test_buttons_without_text_still_get_a_text():
    ((method, body),) = plan(reply(buttons=(Button("Yes", "/affirm"),)))
    assert method == "sendMessage" and body["text"] and body["reply_markup"]


# -- 3. sending, against a fake Bot API on loopback -------------------------------------------

class BotApi:
    """Answers like the Bot API for our token, and 401 for any other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(500)
        self.issued: list[tuple[str, int]] = []  # (chat_id, message_id)
        self.answered: set[str] = set()  # callback query ids

    def __call__(self, recorded: Recorded) -> tuple[int, dict]:
        prefix, _, method = recorded.path.rpartition("/")
        if prefix != f"/bot{TOKEN}":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "setWebhook":
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "answerCallbackQuery":
            return self.answer_callback_query(str(recorded.json["callback_query_id"]))
        if method not in ("sendMessage", "sendPhoto"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        chat = str(recorded.json["chat_id"])
        with self._lock:
            message_id = next(self._ids)
            self.issued.append((chat, message_id))
        return 200, {"ok": True, "result": {
            "message_id": message_id, "date": 1749416400,
            "from": {"id": 7088421967, "is_bot": True, "first_name": "Northwind Help", "username": "NorthwindHelpBot"},
            "chat": {"id": int(chat), "first_name": "Lena", "type": "private"},
            **({"text": recorded.json["text"]} if method == "sendMessage" else {"photo": []})}}

    def answer_callback_query(self, query_id: str) -> tuple[int, dict]:
        # Telegram takes one answer per query; a second one is refused like an expired one.
        with self._lock:
            if query_id in self.answered:
                return 400, {"ok": False, "error_code": 400, "description": (
                    "Bad Request: query is too old and response timeout expired or query ID is invalid")}
            self.answered.add(query_id)
        return 200, {"ok": True, "result": True}


@pytest.fixture(scope="module")
def bot_api():
    answers = BotApi()
    server = FakePlatform(default=answers).start()
    server.answers = answers
    yield server
    server.stop()


def new_chat_id() -> str:
    return str(random.randrange(10 ** 9, 10 ** 10))


def new_query_id() -> str:
    return str(random.randrange(10 ** 18, 10 ** 19))


def delivery(**fields) -> Delivery:
    return Delivery(OutgoingMessage(channel="telegram", **fields), history_id=1, idempotency_key="k-1")


def sent_to(bot_api, chat_id: str) -> list[Recorded]:
    return [r for r in bot_api.received(f"/bot{TOKEN}/send") if str(r.json.get("chat_id")) == chat_id]


async def test_a_text_is_sent_with_send_message_to_the_chat(bot_api):
    chat = new_chat_id()
    result = await channel_for(bot_api.url).send(delivery(recipient_id=chat, text="We're open 9 to 6."))
    (request,) = sent_to(bot_api, chat)
    assert request.method == "POST" and request.path == f"/bot{TOKEN}/sendMessage"
    assert request.json == {"chat_id": chat, "text": "We're open 9 to 6."}
    assert result.ok and result.platform_message_id == f"{chat}:{dict(bot_api.answers.issued)[chat]}"


async def test_a_long_text_is_split_in_order_and_the_keyboard_comes_last(bot_api):
    chat = new_chat_id()
    sentences = [f"Sentence number {i} is about our returns policy." for i in range(200)]
    result = await channel_for(bot_api.url).send(delivery(recipient_id=chat, text=" ".join(sentences),
                                                          buttons=(Button("Talk to a person", "/request_human"),)))
    requests = sent_to(bot_api, chat)
    assert len(requests) == 3 and all(len(r.json["text"]) <= 4096 for r in requests)
    assert " ".join(r.json["text"] for r in requests) == " ".join(sentences)
    assert [("reply_markup" in r.json) for r in requests] == [False, False, True]
    assert result.ok


async def test_an_image_is_sent_with_send_photo(bot_api):
    chat = new_chat_id()
    await channel_for(bot_api.url).send(delivery(recipient_id=chat, text="Our size guide",
                                                 image="https://cdn.example.com/size.png"))
    (request,) = sent_to(bot_api, chat)
    assert request.path.endswith("/sendPhoto")
    assert request.json == {"chat_id": chat, "photo": "https://cdn.example.com/size.png", "caption": "Our size guide"}


def answers_to(bot_api, query: str) -> list[Recorded]:
    return [r for r in bot_api.received(f"/bot{TOKEN}/answerCallbackQuery") if r.json.get("callback_query_id") == query]


async def test_the_reply_to_a_pressed_button_first_answers_its_callback_query(bot_api):
    chat, query = new_chat_id(), new_query_id()
    result = await channel_for(bot_api.url).send(delivery(recipient_id=chat, text="Returns are free for 30 days.",
                                                          thread_id=query))
    assert result.ok and query in bot_api.answers.answered
    (answered,) = answers_to(bot_api, query)
    assert answered.method == "POST" and answered.json == {"callback_query_id": query}
    (reply,) = sent_to(bot_api, chat)
    # The spinner stops as the answer appears, not after it.
    assert bot_api.received().index(answered) < bot_api.received().index(reply)


async def test_a_second_reply_to_the_same_press_is_sent_though_telegram_refuses_a_second_answer(bot_api):
    chat, query = new_chat_id(), new_query_id()
    channel = channel_for(bot_api.url)
    for text in ("Returns are free for 30 days.", "Anything else?"):
        assert (await channel.send(delivery(recipient_id=chat, text=text, thread_id=query))).ok
    assert len(answers_to(bot_api, query)) == 2
    assert [r.json["text"] for r in sent_to(bot_api, chat)] == ["Returns are free for 30 days.", "Anything else?"]


async def test_an_answer_telegram_cannot_take_does_not_hold_up_the_reply(bot_api):
    chat, query = new_chat_id(), new_query_id()
    bot_api.script(f"/bot{TOKEN}/answerCallbackQuery", Scripted(502, "<html>Bad Gateway</html>"))
    result = await channel_for(bot_api.url).send(delivery(recipient_id=chat, text="hi", thread_id=query))
    assert result.ok and len(answers_to(bot_api, query)) == 1 and len(sent_to(bot_api, chat)) == 1


async def test_a_reply_to_a_typed_message_answers_no_callback_query(bot_api):
    before = len(bot_api.received("answerCallbackQuery"))
    assert (await channel_for(bot_api.url).send(delivery(recipient_id=new_chat_id(), text="hi"))).ok
    assert len(bot_api.received("answerCallbackQuery")) == before


async def test_a_429_is_retried_after_telegrams_retry_after(bot_api):
    chat = new_chat_id()
    bot_api.script(f"/bot{TOKEN}/sendMessage", Scripted(429, {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7}}))
    result = await channel_for(bot_api.url).send(delivery(recipient_id=chat, text="hi"))
    assert not result.ok and not result.permanent and result.retry_after == 7
    assert "Too Many Requests" in result.error


async def test_a_5xx_is_retried(bot_api):
    bot_api.script(f"/bot{TOKEN}/sendMessage", Scripted(502, "<html>Bad Gateway</html>"))
    result = await channel_for(bot_api.url).send(delivery(recipient_id=new_chat_id(), text="hi"))
    assert not result.ok and not result.permanent and "502" in result.error


@pytest.mark.parametrize("status, description", [
    (403, "Forbidden: bot was blocked by the user"),
    (400, "Bad Request: chat not found"),
])
async def test_a_refusal_fails_for_good_with_telegrams_reason(bot_api, status, description):
    bot_api.script(f"/bot{TOKEN}/sendMessage", Scripted(status, {"ok": False, "error_code": status,
                                                                 "description": description}))
    result = await channel_for(bot_api.url).send(delivery(recipient_id=new_chat_id(), text="hi"))
    assert not result.ok and result.permanent and result.error == f"Telegram API {status}: {description}"


async def test_an_unreachable_api_is_retried_and_the_token_never_shows():
    result = await channel_for("http://127.0.0.1:9").send(delivery(recipient_id="1", text="hi"))
    assert not result.ok and not result.permanent and "unreachable" in result.error
    assert TOKEN not in result.error


async def test_a_reply_with_nothing_to_show_fails_without_calling_telegram(bot_api):
    before = len(bot_api.received())
    result = await channel_for(bot_api.url).send(delivery(recipient_id=new_chat_id(), custom={"data": {}}))
    assert result.permanent and len(bot_api.received()) == before


# -- 4. python -m bot telegram set-webhook -----------------------------------------------------

def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "telegram", "set-webhook", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_set_webhook_registers_the_url_the_secret_and_the_update_kinds(bot_api):
    result = run_cli({**SETTINGS, "TELEGRAM_API_URL": bot_api.url}, "--url", "https://assist.example.com/")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True, "result": True, "description": "Webhook was set"}
    request = bot_api.received(f"/bot{TOKEN}/setWebhook")[-1]
    assert request.json == {"url": "https://assist.example.com/webhooks/telegram/webhook", "secret_token": SECRET,
                            "allowed_updates": ALLOWED_UPDATES}


def test_set_webhook_defaults_to_public_url_and_shows_telegrams_refusal(bot_api):
    result = run_cli({**SETTINGS, "TELEGRAM_BOT_TOKEN": "123:wrong", "TELEGRAM_API_URL": bot_api.url,
                      "PUBLIC_URL": "https://help.example.com"})
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert bot_api.received("/bot123:wrong/setWebhook")[-1].json["url"] == \
        "https://help.example.com/webhooks/telegram/webhook"


def test_set_webhook_without_the_secret_says_what_to_set(bot_api):
    before = len(bot_api.received())
    result = run_cli({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": "", "TELEGRAM_API_URL": bot_api.url})
    assert result.returncode == 1 and "TELEGRAM_SECRET_TOKEN" in json.loads(result.stdout)["description"]
    assert len(bot_api.received()) == before


# -- 5. the running service ------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(start_service, bot_api):
    return start_service(**SETTINGS, TELEGRAM_API_URL=bot_api.url, OUTBOX_BACKOFF_BASE="0.05",
                         OUTBOX_BACKOFF_MAX="0.5", POLL_INTERVAL="0.1")


_update_ids = itertools.count(random.randrange(10 ** 8, 10 ** 9) * 10)


def update(chat: str, kind: str = "message", **content) -> dict:
    user = {"id": int(chat), "is_bot": False, "first_name": "Lena", "last_name": "Vogel", "username": "lena_v"}
    return {"update_id": next(_update_ids), kind: {
        "message_id": random.randrange(1, 10 ** 6), "from": user, "date": 1749416383,
        "chat": {"id": int(chat), "first_name": "Lena", "last_name": "Vogel", "type": "private"}, **content}}


async def deliver(service, data: dict, secret: str = SECRET) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/telegram/webhook", json=data,
                             headers={HEADER: secret}) as response:
            await response.read()
            return response


async def replies_to(bot_api, chat: str, count: int = 1, timeout: float = 120) -> list[Recorded]:
    await asyncio.to_thread(bot_api.wait_for, lambda got: len(
        [r for r in got if "/send" in r.path and str(r.json.get("chat_id")) == chat]) >= count, timeout)
    return sent_to(bot_api, chat)


def is_response_text(text: str, name: str) -> bool:
    return any(variation and variation in text for variation in responses()[name])


@pytest.mark.slow
async def test_start_gets_the_greeting_with_a_keyboard_and_a_button_press_is_understood(service, bot_api):
    chat = new_chat_id()
    start = update(chat, text="/start", entities=[{"offset": 0, "length": 6, "type": "bot_command"}])
    assert (await deliver(service, start)).status == 200
    (greeting,) = await replies_to(bot_api, chat)
    assert is_response_text(greeting.json["text"], "utter_greet")
    keyboard = greeting.json["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == ["/order_status", "/returns_policy", "/request_human"]

    message = {"message_id": 9, "chat": {"id": int(chat), "type": "private"}, "date": 1749416390,
               "text": greeting.json["text"], "reply_markup": greeting.json["reply_markup"]}
    query = new_query_id()
    press = {"update_id": next(_update_ids), "callback_query": {
        "id": query, "from": {"id": int(chat), "is_bot": False, "first_name": "Lena"},
        "message": message, "chat_instance": "-6038465719302958130", "data": "/returns_policy"}}
    assert (await deliver(service, press)).status == 200
    _, answer = await replies_to(bot_api, chat, count=2)
    assert is_response_text(answer.json["text"], "utter_returns_policy")
    # The button stopped spinning: its callback query was answered, once, before the reply.
    (answered,) = answers_to(bot_api, query)
    assert answered.json == {"callback_query_id": query}
    assert bot_api.received().index(answered) < bot_api.received().index(answer)
    assert (await asyncio.to_thread(service.health))["channels"]["telegram"] == "configured"


@pytest.mark.slow
async def test_a_redelivered_update_is_answered_once(service, bot_api):
    chat = new_chat_id()
    data = update(chat, text="what are your opening hours?")
    first, second = await asyncio.gather(deliver(service, data), deliver(service, data))
    assert first.status == second.status == 200
    assert (await deliver(service, data)).status == 200
    (answer,) = await replies_to(bot_api, chat)
    assert is_response_text(answer.json["text"], "utter_opening_hours")
    await asyncio.sleep(1.5)
    assert len(sent_to(bot_api, chat)) == 1


@pytest.mark.slow
async def test_a_sticker_gets_a_polite_text_and_a_wrong_secret_nothing(service, bot_api):
    chat, other = new_chat_id(), new_chat_id()
    sticker = update(chat, sticker={"file_id": "CAACAgIAAxkBAAIBn2Zm0bZtbPEF", "file_unique_id": "AgADBQADwDZPEw",
                                    "width": 512, "height": 512, "is_animated": True, "is_video": False,
                                    "type": "regular", "emoji": "\U0001F44B"})
    assert (await deliver(service, sticker)).status == 200
    assert (await deliver(service, update(other, text="what are your opening hours?"), secret="guess")).status == 403
    (answer,) = await replies_to(bot_api, chat)
    assert "Thanks for the sticker" in answer.json["text"]
    await asyncio.sleep(1)
    assert sent_to(bot_api, other) == []


@pytest.mark.slow
async def test_a_429_is_waited_out_and_a_blocked_bot_is_recorded_as_failed(service, bot_api):
    slow, blocked = new_chat_id(), new_chat_id()
    # Scripts match by path, not chat: each is set just before the one send it is meant for.
    bot_api.script(f"/bot{TOKEN}/sendMessage", Scripted(429, {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1}}))
    assert (await deliver(service, update(slow, text="what are your opening hours?"))).status == 200
    attempts = await replies_to(bot_api, slow, count=2)
    assert len({r.body for r in attempts}) == 1

    bot_api.script(f"/bot{TOKEN}/sendMessage", Scripted(403, {
        "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}))
    assert (await deliver(service, update(blocked, text="what are your opening hours?"))).status == 200
    await replies_to(bot_api, blocked)
    await delivery_statuses_become(service, blocked, ["failed"])
    await delivery_statuses_become(service, slow, ["sent"])
    assert len(sent_to(bot_api, blocked)) == 1 and len(sent_to(bot_api, slow)) == 2


async def delivery_statuses_become(service, chat: str, wanted: list[str], timeout: float = 30) -> None:
    """The outbox records an outcome just after the fake API answered: wait for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        transcript = await asyncio.to_thread(cli_json, service.env["DATABASE_URL"], "transcript",
                                             "--channel", "telegram", "--sender", chat)
        found = [m["delivery_status"] for m in transcript["conversations"][0]["messages"] if m["author"] == "bot"]
        if found == wanted:
            return
        assert loop.time() < deadline, f"delivery statuses {found}, expected {wanted}"
        await asyncio.sleep(0.3)


async def test_a_retried_long_reply_resumes_after_the_parts_delivered(bot_api):
    chat, query = new_chat_id(), new_query_id()
    sentences = [f"Sentence number {i} is about our returns policy." for i in range(200)]
    message = dict(recipient_id=chat, text=" ".join(sentences), thread_id=query)
    bot_api.script("/sendMessage", Scripted(200, {"ok": True, "result": {
        "message_id": 1, "date": 1749416400, "chat": {"id": int(chat), "type": "private"}}}),
        Scripted(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}))
    first = await channel_for(bot_api.url).send(delivery(**message))
    assert not first.ok and not first.permanent and first.parts_sent == 1
    again = await channel_for(bot_api.url).send(dataclasses.replace(delivery(**message), parts_sent=first.parts_sent))
    assert again.ok and again.parts_sent == 3
    texts = [r.json["text"] for r in sent_to(bot_api, chat)]
    # Part 2 was refused once and sent again; part 1 reached the customer once.
    assert len(texts) == 4 and texts[1] == texts[2] and texts[0] != texts[1]
    assert " ".join([texts[0], *texts[2:]]) == " ".join(sentences)
    assert len(answers_to(bot_api, query)) == 1  # the button's spinner is stopped once, on the first try


# -- fields of the wrong type (found by `make fuzz`): read as absent, never a 500 ---------------

@pytest.mark.parametrize("name, path, value", [
    ("text", ("message", "from"), "Lena"),
    ("text", ("message", "chat"), {"type": "private"}),
    ("help_command", ("message", "entities"), 1),
    ("help_command", ("message", "entities", 0, "length"), "twenty-two"),
    ("location", ("message", "location"), 5),
    ("callback_query", ("callback_query", "from"), 6215479032),
    ("callback_query", ("callback_query", "message", "chat"), {"type": "private"}),
    ("callback_query", ("callback_query", "message", "reply_markup"), "keyboard"),
    ("callback_query", ("callback_query", "message", "reply_markup", "inline_keyboard", 0, 0, "text"), 42),
])
def test_a_field_of_the_wrong_type_is_read_as_absent(name, path, value):
    body = with_value("telegram", name, path, value)
    assert well_typed(channel_for().parse(post_request(body, with_secret())))
