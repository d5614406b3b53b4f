"""The web chat's WebSocket protocol against the running service."""

from __future__ import annotations

import json
import uuid

import aiohttp
import pytest

from tests.support.client import cli, cli_json, is_response, new_sender

pytestmark = pytest.mark.slow


async def next_of(ws, kind: str, timeout: float = 30) -> dict:
    while True:
        frame = await ws.receive_json(timeout=timeout)
        if frame["type"] == kind:
            return frame


async def test_customer_gets_ack_then_the_bot_answer_and_history_on_reconnect(service):
    sender = new_sender("web")
    url = f"{service.url}/webhooks/webchat/ws?sender={sender}"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            history = await next_of(ws, "history")
            assert history["messages"] == [] and history["status"] == "bot"
            client_id = str(uuid.uuid4())
            await ws.send_json({"type": "message", "text": "what are your opening hours", "client_id": client_id})
            assert (await next_of(ws, "ack"))["client_id"] == client_id
            answer = await next_of(ws, "message")
            assert answer["author"] == "bot" and is_response(answer["text"], "utter_opening_hours")
            # The same client id again (a resend after a reconnect) is not a second question.
            await ws.send_json({"type": "message", "text": "what are your opening hours", "client_id": client_id})
            await next_of(ws, "ack")
        async with http.ws_connect(url) as ws:
            history = await next_of(ws, "history")
    authors = [m["author"] for m in history["messages"]]
    assert authors[0] == "customer" and authors.count("customer") == 1 and "bot" in authors
    assert history["messages"][0]["client_id"] == client_id


async def test_two_senders_reusing_a_client_id_each_get_their_own_answer(service):
    # Widgets number their own messages: the same client_id from another sender is a new message.
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    questions = {new_sender("web"): ("what are your opening hours", "utter_opening_hours"),
                 new_sender("web"): ("how do I return an item?", "utter_returns_policy")}
    async with aiohttp.ClientSession() as http:
        for sender, (question, response) in questions.items():
            async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={sender}") as ws:
                await next_of(ws, "history")
                await ws.send_json({"type": "message", "text": question, "client_id": client_id})
                assert (await next_of(ws, "ack"))["client_id"] == client_id
                answer = await next_of(ws, "message")
                assert answer["author"] == "bot" and is_response(answer["text"], response)
    for sender, (question, _) in questions.items():
        transcript = cli_json(service.env["DATABASE_URL"], "transcript", "--channel", "webchat", "--sender", sender)
        (conversation,) = transcript["conversations"]
        assert [m["text"] for m in conversation["messages"] if m["author"] == "customer"] == [question]


async def test_handoff_status_reaches_the_page_live(service):
    sender = new_sender("web")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={sender}") as ws:
            await next_of(ws, "history")
            await ws.send_json({"type": "message", "text": "I need to speak to a human", "client_id": "c1"})
            status = await next_of(ws, "status")
            assert status["status"] == "queued"
    (row,) = [r for r in cli_json(service.env["DATABASE_URL"], "queue") if r["customer"] == sender]
    assert row["channel"] == "webchat"


async def test_a_quick_reply_sends_its_payload(service):
    sender = new_sender("web")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={sender}") as ws:
            await next_of(ws, "history")
            await ws.send_json({"type": "postback", "payload": "/opening_hours", "title": "Opening hours",
                                "client_id": "p1"})
            answer = await next_of(ws, "message")
    assert is_response(answer["text"], "utter_opening_hours")
    result = cli(service.env["DATABASE_URL"], "transcript", "--channel", "webchat", "--sender", sender)
    assert "Customer: Opening hours" in result.stdout


@pytest.mark.parametrize("frame, reason", [
    ("not json", "malformed JSON"),
    (json.dumps({"type": "message", "text": "", "client_id": "x"}), "empty"),
    (json.dumps({"type": "dance", "text": "hi", "client_id": "x"}), "unknown frame type"),
    (json.dumps({"type": "message", "text": "hi"}), "client_id"),
])
async def test_bad_frames_get_an_error_and_the_socket_stays_open(service, frame, reason):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={new_sender('web')}") as ws:
            await next_of(ws, "history")
            await ws.send_str(frame)
            error = await next_of(ws, "error")
            assert reason in error["reason"]
            await ws.send_json({"type": "message", "text": "hello", "client_id": "ok-1"})
            assert (await next_of(ws, "ack"))["client_id"] == "ok-1"


async def test_a_bad_sender_id_is_refused(service):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{service.url}/webhooks/webchat/ws?sender=<script>") as response:
            assert response.status == 400
