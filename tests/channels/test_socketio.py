"""socket.io (Rasa's SocketIOInput protocol): every frame fixture, the transport in-process
against a real database, and widgets talking to the running service."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from pathlib import Path

import aiohttp
import jwt
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.inbox import Inbox
from bot.messages import Button, OutgoingMessage
from bot.settings import Settings
from bot.storage.models import InboxItem
from channels.base import Delivery, WebhookRejected, WebhookRequest
from channels.registry import build_platform_channels
from channels.socketio import SocketioChannel, bot_frames, cors_origins, session_of, user_message
from tests.support.client import responses

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "socketio"
SOCKET_SID = "<socket sid>"
NEW_UUID = "<new uuid>"
ENABLED = {"SOCKETIO_ENABLED": "true"}


# -- 1. frames: every fixture against its declared expectation --------------------------------

def _fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))


def _result(fixture: dict):
    """What the channel makes of one fixture: messages, a session, bot frames, or an error."""
    try:
        if fixture["event"] == "user_uttered":
            session = session_of(fixture["data"]) or SOCKET_SID
            message = user_message(session, fixture["data"], max_text_chars=4096)
            return [{"type": "message", **json.loads(json.dumps(dataclasses.asdict(message)))}]
        if fixture["event"] == "session_request":
            return {"session_id": session_of(fixture["data"])}
        if fixture["event"] == "bot_uttered":
            return bot_frames(OutgoingMessage.from_json(fixture["reply"]))
    except WebhookRejected as rejected:
        return {"error": rejected.reason}
    raise AssertionError(f"fixture event {fixture['event']!r} has no harness")


def _matches(actual, expected) -> bool:
    if isinstance(expected, dict) and set(expected) == {"error"}:
        return isinstance(actual, dict) and expected["error"] in actual.get("error", "")
    if isinstance(expected, list) and expected and expected[0].get("type") == "message":
        defaults = {"sender_name": None, "payload": None, "attachments": [], "is_public": False,
                    "thread_id": None, "metadata": {}, "client_address": None}
        expected = [{**defaults, **e} for e in expected]
        for got, wanted in zip(actual, expected):
            if wanted["message_id"] == NEW_UUID and re.fullmatch(r"[0-9a-f]{32}", got["message_id"]):
                wanted["message_id"] = got["message_id"]
    return actual == expected


@pytest.mark.parametrize("name", _fixture_names())
def test_every_fixture_gives_its_declared_result(name):
    expected_file = FIXTURES / f"{name}.expected.json"
    assert expected_file.exists(), f"tests/fixtures/socketio/{name}.json has no {name}.expected.json"
    actual = _result(json.loads((FIXTURES / f"{name}.json").read_text()))
    assert _matches(actual, json.loads(expected_file.read_text())), actual


def test_client_message_ids_are_scoped_to_their_session():
    data = {"message": "hi", "customData": {"message_id": "1"}}
    assert user_message("a", data, 100).message_id != user_message("b", data, 100).message_id
    assert user_message("a", data, 100).message_id == user_message("a", data, 100).message_id


def test_a_message_over_the_limit_is_refused():
    with pytest.raises(WebhookRejected, match="longer than 10"):
        user_message("s", {"message": "x" * 11}, max_text_chars=10)


@pytest.mark.parametrize("setting, expected", [("", []), ("*", "*"), (" https://a.example , https://b.example", [
    "https://a.example", "https://b.example"])])
def test_cors_origins_setting(setting, expected):
    assert cors_origins(setting) == expected


def test_socketio_is_off_until_enabled_and_has_no_webhook():
    assert SocketioChannel(Settings.from_mapping({}), LocalBus()).missing_settings == ("SOCKETIO_ENABLED",)
    channel = SocketioChannel(Settings.from_mapping(ENABLED), LocalBus())
    assert channel.missing_settings == ()
    assert channel.handshake(WebhookRequest("GET", {}, {}, b"")) is None
    with pytest.raises(WebhookRejected) as rejected:
        channel.parse(WebhookRequest("POST", {}, {}, b"{}"))
    assert rejected.value.status == 405
    assert "socketio" in build_platform_channels(Settings.from_mapping({}), HttpClient(1), LocalBus())


async def test_an_unconfigured_socketio_path_is_refused_with_403_naming_the_setting(db):
    app = web.Application()
    SocketioChannel(Settings.from_mapping({}), LocalBus()).attach(app, Inbox(db, LocalBus()), db)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert response.status == 403 and "SOCKETIO_ENABLED" in (await response.json())["error"]


async def test_with_origins_set_the_sites_widget_gets_cors_headers_and_other_sites_are_refused(db):
    # rasa-webchat's first request is a long-polling GET from the brand's page: without
    # Access-Control-Allow-Origin for that page the browser hides the answer from it.
    settings = Settings.from_mapping({**ENABLED, "SOCKETIO_CORS_ORIGINS": "https://shop.example"})
    app = web.Application()
    SocketioChannel(settings, LocalBus()).attach(app, Inbox(db, LocalBus()), db)
    handshake = {"EIO": "4", "transport": "polling"}
    async with TestClient(TestServer(app)) as client:
        allowed = await client.get("/socket.io/", params=handshake, headers={"Origin": "https://shop.example"})
        assert allowed.status == 200 and (await allowed.text()).startswith("0{")
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        other = await client.get("/socket.io/", params=handshake, headers={"Origin": "https://evil.example"})
        assert other.status == 400 and "Access-Control-Allow-Origin" not in other.headers
        upgrade = await client.get("/socket.io/", params={**handshake, "transport": "websocket"},
                                   headers={"Origin": "https://evil.example"})
        assert upgrade.status == 400


async def test_without_origins_a_page_of_another_site_gets_no_cors_headers_and_start_up_says_so(db, caplog):
    app = web.Application()
    with caplog.at_level("WARNING", logger="channels.socketio"):
        SocketioChannel(Settings.from_mapping(ENABLED), LocalBus()).attach(app, Inbox(db, LocalBus()), db)
    assert any("SOCKETIO_CORS_ORIGINS is empty" in r.getMessage() for r in caplog.records)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"},
                                    headers={"Origin": "https://shop.example"})
        # Served (no origin check, as Rasa), but a browser on that site may not read it.
        assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers
    caplog.clear()
    with caplog.at_level("WARNING", logger="channels.socketio"):
        SocketioChannel(Settings.from_mapping({**ENABLED, "SOCKETIO_CORS_ORIGINS": "*"}), LocalBus()).attach(
            web.Application(), Inbox(db, LocalBus()), db)
    assert not any("SOCKETIO_CORS_ORIGINS" in r.getMessage() for r in caplog.records)


# -- 2. the transport in-process: real server, real client, real database --------------------

class Widget:
    """A chat widget as rasa-webchat is: a socket.io client that collects what it is told."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        for event in ("session_confirm", "bot_uttered", "error"):
            self.client.on(event, self._collector(event))

    def _collector(self, event: str):
        async def collect(data=None, *_):
            await self.events.put((event, data))
        return collect

    async def connect(self, url: str) -> Widget:
        # Long-polling: this python-engineio's websocket client needs a newer aiohttp than the
        # service's; the server's websocket side is tested by `RawWebsocketWidget` below.
        await self.client.connect(url, socketio_path="socket.io", transports=["polling"], wait_timeout=10)
        return self

    async def session(self, session_id: str | None = None) -> str:
        await self.client.emit("session_request", {"session_id": session_id})
        event, data = await self.next(timeout=10)
        assert event == "session_confirm"
        return data

    async def say(self, session_id: str, text: str, **custom) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id,
                                                "customData": {"language": "en", **custom}})

    async def next(self, timeout: float = 60) -> tuple[str, object]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def replies(self, quiet: float = 1.5, timeout: float = 60) -> list[dict]:
        """The bot_uttered frames of one answer: the first within `timeout`, then until quiet."""
        event, data = await self.next(timeout)
        frames = [(event, data)]
        while True:
            try:
                frames.append(await self.next(quiet))
            except asyncio.TimeoutError:
                break
        assert all(e == "bot_uttered" for e, _ in frames), frames
        return [d for _, d in frames]

    async def close(self) -> None:
        # Not waiting for the pending long-poll to time out (it holds a clean close ~25 s).
        eio = self.client.eio
        await eio.disconnect(abort=True)
        await asyncio.gather(*(t for t in (eio.read_loop_task, eio.write_loop_task) if t), return_exceptions=True)


@pytest.fixture
async def transport(db):
    """The socket.io server mounted on a bare app, with the real inbox on both backends."""
    bus = LocalBus()
    channel = SocketioChannel(Settings.from_mapping(ENABLED), bus)
    app = web.Application()
    channel.attach(app, Inbox(db, bus), db)
    server = TestServer(app)
    await server.start_server()
    widgets: list[Widget] = []

    async def widget() -> Widget:
        widgets.append(await Widget().connect(str(server.make_url("/"))))
        return widgets[-1]

    widget.url = str(server.make_url("/socket.io/"))
    yield channel, widget, db
    for w in widgets:
        await w.close()
    await server.close()


async def stored(db) -> list[InboxItem]:
    async with db.session() as session:
        return list((await session.execute(select(InboxItem).order_by(InboxItem.id))).scalars())


async def test_a_session_is_confirmed_new_or_resumed(transport):
    _, widget, _ = transport
    client = await widget()
    fresh = await client.session()
    assert re.fullmatch(r"[0-9a-f]{32}", fresh)
    assert await client.session("resumed-session-1") == "resumed-session-1"
    await client.client.emit("session_request")  # no data at all, as some widgets do
    assert (await client.next(10))[0] == "session_confirm"


async def test_a_customer_message_is_stored_in_the_inbox(transport):
    _, widget, db = transport
    client = await widget()
    session = await client.session()
    await client.say(session, "what are your opening hours?", message_id="m-1")
    await client.say(session, "what are your opening hours?", message_id="m-1")  # a resend
    await client.say(session, "/greet")
    for _ in range(100):
        if len(items := await stored(db)) >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    items = await stored(db)
    assert [(i.channel, i.conversation_key, i.platform_message_id) for i in items][:1] == [
        ("socketio", f"socketio:{session}", f"{session}:m-1")]
    assert len(items) == 2 and items[1].payload["payload"] == "/greet"


async def test_replies_and_agent_messages_reach_every_socket_of_the_session_live(transport):
    channel, widget, _ = transport
    first, second, stranger = await widget(), await widget(), await widget()
    session = await first.session()
    assert await second.session(session) == session
    await stranger.session()
    reply = OutgoingMessage(channel="socketio", recipient_id=session, author="agent", agent_name="Sofia",
                            text="Hi, Sofia here.\n\nYour parcel left Hamburg today.",
                            buttons=(Button("Thanks!", "/thank"),))
    result = await channel.send(Delivery(reply, history_id=41, idempotency_key="k"))
    assert result.ok and result.platform_message_id == "socketio-41"
    expected = [{"text": "Hi, Sofia here."}, {"text": "Your parcel left Hamburg today.",
                "quick_replies": [{"content_type": "text", "title": "Thanks!", "payload": "/thank"}]}]
    assert await first.replies(quiet=0.5) == expected
    assert await second.replies(quiet=0.5) == expected
    with pytest.raises(asyncio.TimeoutError):
        await stranger.next(timeout=0.5)


async def test_bad_frames_get_an_error_and_the_server_keeps_working(transport):
    _, widget, db = transport
    client = await widget()
    session = await client.session()
    for bad in ({"session_id": session}, "just a string", {"message": 42, "session_id": session},
                {"message": "hi", "session_id": "../x"}, None):
        await client.client.emit("user_uttered", bad)
        event, data = await client.next(10)
        assert event == "error" and data["reason"]
    await client.say(session, "still there?")
    for _ in range(100):
        if await stored(db):
            break
        await asyncio.sleep(0.05)
    assert [i.payload["text"] for i in await stored(db)] == ["still there?"]


async def test_a_websocket_widget_speaks_the_same_protocol(transport):
    """Engine.IO 4 / Socket.IO 5 packets by hand, as a browser's socket.io-client sends them."""
    channel, widget, _ = transport
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{widget.url}?EIO=4&transport=websocket") as ws:
            opened = await ws.receive_str(timeout=10)
            assert opened.startswith("0") and "pingInterval" in json.loads(opened[1:])
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=10)).startswith("40")
            await ws.send_str('42["session_request",{"session_id":"ws-session-1"}]')
            assert json.loads((await ws.receive_str(timeout=10))[2:]) == ["session_confirm", "ws-session-1"]
            await channel.send(Delivery(OutgoingMessage(channel="socketio", recipient_id="ws-session-1",
                                                        image="https://cdn.example.com/a.png"), 1, "k"))
            assert json.loads((await ws.receive_str(timeout=10))[2:]) == [
                "bot_uttered", {"attachment": {"type": "image", "payload": {"src": "https://cdn.example.com/a.png"}}}]


async def test_a_reply_with_nothing_to_show_is_not_sent():
    result = await SocketioChannel(Settings.from_mapping(ENABLED), LocalBus()).send(
        Delivery(OutgoingMessage(channel="socketio", recipient_id="s", custom={"private_reply": True}), 1, "k"))
    assert not result.ok and result.permanent


# -- Rasa's jwt_key: the token's subject is the session ---------------------------------------

JWT_KEY = "widget-signing-key-0123456789abcdef"


def token(sub: str | None = "customer-42", key: str = JWT_KEY, **claims) -> str:
    return jwt.encode({**({"sub": sub} if sub is not None else {}), **claims}, key, algorithm="HS256")


@pytest.fixture
async def jwt_transport(db):
    bus = LocalBus()
    channel = SocketioChannel(Settings.from_mapping({**ENABLED, "SOCKETIO_JWT_KEY": JWT_KEY}), bus)
    app = web.Application()
    channel.attach(app, Inbox(db, bus), db)
    server = TestServer(app)
    await server.start_server()
    widgets: list[Widget] = []

    async def widget(auth=None) -> Widget:
        client = Widget()
        widgets.append(client)  # closed even when refused: its engine.io half may be open
        await client.client.connect(str(server.make_url("/")), socketio_path="socket.io", transports=["polling"],
                                    auth=auth, wait_timeout=10)
        return client

    widget.url = str(server.make_url("/socket.io/"))
    yield widget, db
    for w in widgets:
        await w.close()
    await server.close()


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": token(key="another-key-0123456789abcdef")},
                                  {"token": token(sub=None)}, {"token": token(sub="../x")},
                                  {"token": token(exp=1_000_000_000)}, {"token": "not.a.jwt"}])
async def test_with_a_jwt_key_a_widget_without_a_valid_token_cannot_connect(jwt_transport, auth):
    """Socket.IO 5 packets by hand (a refused polling client takes a long-poll to close):
    CONNECT with the auth object, answered CONNECT_ERROR with the reason."""
    widget, _ = jwt_transport
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{widget.url}?EIO=4&transport=websocket") as ws:
            assert (await ws.receive_str(timeout=10)).startswith("0")
            await ws.send_str("40" + (json.dumps(auth) if auth is not None else ""))
            answer = await ws.receive_str(timeout=10)
            assert answer.startswith("44"), answer
            assert "token" in json.loads(answer[2:])["message"]


async def test_with_a_jwt_key_a_valid_token_connects(jwt_transport):
    widget, _ = jwt_transport
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{widget.url}?EIO=4&transport=websocket") as ws:
            assert (await ws.receive_str(timeout=10)).startswith("0")
            await ws.send_str("40" + json.dumps({"token": token("ws-customer")}))
            assert (await ws.receive_str(timeout=10)).startswith("40")
            await ws.send_str('42["session_request",{"session_id":"not-mine"}]')
            assert json.loads((await ws.receive_str(timeout=10))[2:]) == ["session_confirm", "ws-customer"]


async def test_the_tokens_subject_is_the_session_whatever_the_widget_asks(jwt_transport):
    widget, db = jwt_transport
    client = await widget({"token": f"Bearer {token('customer-42')}"})
    assert await client.session("someone-else") == "customer-42"
    await client.say("someone-else", "let me read their messages")
    event, data = await client.next(10)
    assert event == "error" and "another session" in data["reason"]
    await client.say("customer-42", "where is my order?")
    await client.client.emit("user_uttered", {"message": "and another thing"})  # no session named: the token's
    for _ in range(100):
        if len(await stored(db)) >= 2:
            break
        await asyncio.sleep(0.05)
    assert [(i.conversation_key, i.payload["text"]) for i in await stored(db)] == [
        ("socketio:customer-42", "where is my order?"), ("socketio:customer-42", "and another thing")]


# -- 3. the running service -------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(start_service):
    return start_service(**ENABLED, OUTBOX_BACKOFF_BASE="0.05", OUTBOX_BACKOFF_MAX="0.5", POLL_INTERVAL="0.1")


@pytest.fixture
async def widgets(service):
    opened: list[Widget] = []

    async def open_widget() -> Widget:
        opened.append(await Widget().connect(service.url))
        return opened[-1]

    yield open_widget
    for widget in opened:
        await widget.close()


def text_of(frames: list[dict]) -> str:
    return "\n\n".join(f.get("text", "") for f in frames)


@pytest.mark.slow
async def test_the_service_reports_socketio_configured(service):
    assert (await asyncio.to_thread(service.health))["channels"]["socketio"] == "configured"


@pytest.mark.slow
async def test_a_routine_question_is_answered_as_bot_uttered(widgets):
    widget = await widgets()
    session = await widget.session()
    await widget.say(session, "what are your opening hours?")
    frames = await widget.replies()
    assert text_of(frames) in responses()["utter_opening_hours"]


@pytest.mark.slow
async def test_buttons_arrive_as_quick_replies_and_pressing_one_is_understood(widgets):
    widget = await widgets()
    session = await widget.session()
    await widget.say(session, "hello there")
    frames = await widget.replies()
    quick = [q for f in frames for q in f.get("quick_replies", [])]
    assert quick and all(set(q) == {"content_type", "title", "payload"} and q["content_type"] == "text"
                         for q in quick)
    await widget.say(session, quick[0]["payload"])  # what rasa-webchat sends for a click
    assert await widget.replies()


@pytest.mark.slow
async def test_a_second_widget_on_the_same_session_gets_the_replies(widgets):
    first, second = await widgets(), await widgets()
    session = await first.session()
    assert await second.session(session) == session
    await first.say(session, "do you ship internationally?")
    assert await first.replies() == await second.replies()


@pytest.mark.slow
async def test_a_resent_message_is_answered_once(widgets):
    widget = await widgets()
    session = await widget.session(f"resend-{uuid.uuid4().hex[:8]}")
    await widget.say(session, "how much is shipping?", message_id="client-7")
    await widget.say(session, "how much is shipping?", message_id="client-7")
    first = await widget.replies(quiet=3)
    assert first and text_of(first)


@pytest.mark.slow
async def test_bad_frames_do_not_stop_the_service(widgets):
    widget = await widgets()
    session = await widget.session()
    await widget.client.emit("user_uttered", "not an object")
    assert (await widget.next(10))[0] == "error"
    await widget.client.emit("user_uttered", {"session_id": session})
    assert (await widget.next(10))[0] == "error"
    await widget.say(session, "when are you open?")
    assert text_of(await widget.replies()) in responses()["utter_opening_hours"]


def test_an_unpaired_surrogate_is_replaced_and_the_message_kept():
    # python-socketio decodes '"\\ud800"' into a string no database or log can write (found by `make fuzz`).
    packet = json.loads('{"message": "hi \\ud800 there", "customData": {"k\\udc00": "\\udfff"}}')
    message = user_message("s1", packet, max_text_chars=4096)
    assert message.text == "hi \ufffd there"
    json.dumps(message.metadata, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("frame", [
    '42["user_uttered", {"message": "unterminated', "421" + "9" * 5000, '42{"not": "an event"}', "42[]",
    '42[{"event": "as an object"}]', "42null", '47["x"]', "49", "x[\"user_uttered\"]", '-1["session_request"]',
    # Engine.IO packet types python-engineio has no name for.
    "7", '8{"a": 1}', "9probe",
    # A Socket.IO connect-error, which only servers send.
    '44{"message": "no"}',
])
async def test_a_frame_no_socketio_client_sends_closes_the_connection_without_an_error_logged(transport, frame,
                                                                                            caplog):
    """python-socketio and python-engineio raised on these, and each was logged as an error
    with its traceback, so any client could fill the log (found by `make fuzz`)."""
    channel, widget, db = transport
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{widget.url}?EIO=4&transport=websocket") as ws:
            assert (await ws.receive_str(timeout=10)).startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=10)).startswith("40")
            await ws.send_str(frame)
            # Told to go (Engine.IO's close, "1"), or the connection closed at once.
            while (answer := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT and answer.data != "1":
                assert answer.data == "2"  # a ping meanwhile
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    client = await widget()
    session = await client.session()
    await client.say(session, "still there?")
    for _ in range(100):
        if await stored(db):
            break
        await asyncio.sleep(0.05)
    assert [i.payload["text"] for i in await stored(db)] == ["still there?"]


@pytest.mark.parametrize("packet", ["7", "8", '9["user_uttered"]'])
async def test_a_long_polling_packet_of_no_engineio_type_is_a_400_without_an_error_logged(transport, packet,
                                                                                        caplog):
    """Sent by long-polling POST, python-engineio logged these as "post request handler
    error" with a traceback and answered 200 (found by `make fuzz`)."""
    channel, widget, db = transport
    async with aiohttp.ClientSession() as http:
        async with http.get(widget.url, params={"EIO": "4", "transport": "polling"}) as opened:
            sid = json.loads((await opened.text())[1:])["sid"]
        async with http.post(widget.url, params={"EIO": "4", "transport": "polling", "sid": sid},
                             data=packet) as answer:
            assert answer.status == 400
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    client = await widget()
    session = await client.session()
    await client.say(session, "still there?")
    for _ in range(100):
        if await stored(db):
            break
        await asyncio.sleep(0.05)
    assert [i.payload["text"] for i in await stored(db)] == ["still there?"]


async def test_text_where_a_binary_attachment_is_due_closes_the_connection_without_an_error_logged(transport,
                                                                                                caplog):
    """python-socketio raised "Unexpected binary attachment", logged with its traceback, and the
    connection stayed open with no answer to anything after (found by `make fuzz`)."""
    channel, widget, db = transport
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{widget.url}?EIO=4&transport=websocket") as ws:
            assert (await ws.receive_str(timeout=10)).startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=10)).startswith("40")
            await ws.send_str('451-["user_uttered",{"_placeholder":true,"num":0}]')
            await ws.send_str('421["session_request",{}]')
            while (answer := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT and answer.data != "1":
                assert answer.data == "2"
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


async def test_binary_data_where_no_attachment_is_due_closes_the_connection_without_an_error_logged(transport,
                                                                                                 caplog):
    """python-socketio read it as a packet and raised "Unknown packet type" (found by `make fuzz`)."""
    channel, widget, db = transport
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{widget.url}?EIO=4&transport=websocket") as ws:
            assert (await ws.receive_str(timeout=10)).startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str(timeout=10)).startswith("40")
            await ws.send_bytes(b"\x09\xff not a packet")
            while (answer := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT and answer.data != "1":
                assert answer.data == "2"
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


async def socketio_connected(http: aiohttp.ClientSession, url: str):
    ws = await http.ws_connect(f"{url}?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=10)).startswith("0")
    await ws.send_str("40")
    assert (await ws.receive_str(timeout=10)).startswith("40")
    return ws


@pytest.mark.parametrize("event", ["user_utt\ufffdred", "bot_uttered", "\u0000", "😀" * 300])
async def test_an_event_of_no_known_name_is_acknowledged_with_an_error_naming_the_events(transport, event):
    """python-socketio leaves an event without a handler unanswered: a client waiting for its
    acknowledgement waited for ever (found by `make fuzz`)."""
    channel, widget, db = transport
    async with aiohttp.ClientSession() as http:
        ws = await socketio_connected(http, widget.url)
        await ws.send_str("427" + json.dumps([event, {"message": "hi"}]))
        frames = []
        while not (frame := await ws.receive_str(timeout=10)).startswith("437["):
            frames.append(frame)
        error = next(json.loads(f[2:]) for f in frames if f.startswith('42["error"'))
        assert "user_uttered" in error[1]["reason"] and "session_request" in error[1]["reason"]
        await ws.close()
    assert await stored(db) == []


async def test_a_packet_after_leaving_the_namespace_closes_the_connection(transport, caplog):
    """After a Socket.IO disconnect ("41") python-socketio dropped every event silently; the
    reference server closes such a connection, and so does ours (found by `make fuzz`)."""
    channel, widget, db = transport
    async with aiohttp.ClientSession() as http:
        ws = await socketio_connected(http, widget.url)
        await ws.send_str("41")
        await ws.send_str('421["session_request", {"session_id": null}]')
        while (answer := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT and answer.data != "1":
            assert answer.data == "2"
        await ws.close()
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
