"""The open channels (REST, web chat, socket.io), whose clients choose their own sender ids,
against the running service: limits per client address that rotating ids does not get
around, and Rasa's REST auth token.

The service trusts loopback as its reverse proxy, so each test speaks from an address of
its own through X-Forwarded-For, as customers behind a proxy do.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest

from bot.worker import HANDOFF_REFUSED
from tests.channels.test_socketio import Widget
from tests.support.client import cli_json, new_sender

pytestmark = pytest.mark.slow

TOKEN = "open-sesame-" + uuid.uuid4().hex
BURST = 6
HANDOFFS = 3
ANGRY = "This is awful. I hate your useless, terrible service and I am furious!"


@pytest.fixture(scope="module")
def service(start_service):
    return start_service(TRUSTED_PROXIES="127.0.0.1,::1", ADDRESS_RATE_PER_MINUTE="1", ADDRESS_BURST=str(BURST),
                         ADDRESS_HANDOFFS_PER_HOUR=str(HANDOFFS), REST_AUTH_TOKEN=TOKEN, SOCKETIO_ENABLED="true")


def address() -> str:
    return f"2001:db8::{uuid.uuid4().hex[:4]}"


async def post(http: aiohttp.ClientSession, url: str, sender: str, text: str, client: str,
               token: str | None = TOKEN) -> aiohttp.ClientResponse:
    params = {"token": token} if token is not None else {}
    async with http.post(f"{url}/webhooks/rest/webhook", params=params, headers={"X-Forwarded-For": client},
                         json={"sender": sender, "message": text}) as response:
        await response.read()
        return response


# -- REST auth token (Rasa's --auth-token) ---------------------------------------------------

@pytest.mark.parametrize("params, headers", [
    ({}, {}),
    ({"token": "wrong"}, {}),
    ({"token": TOKEN[:-1]}, {}),
    ({}, {"Authorization": "Bearer wrong"}),
])
async def test_rest_without_the_right_token_is_refused_with_401(service, params, headers):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/rest/webhook", params=params, headers=headers,
                             json={"sender": new_sender(), "message": "hi"}) as response:
            assert response.status == 401
            assert "token" in (await response.json())["error"]
        async with http.get(f"{service.url}/webhooks/rest/webhook", params=params, headers=headers) as response:
            assert response.status == 401


async def test_rest_with_the_token_is_answered(service):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/rest/webhook", params={"token": TOKEN},
                             json={"sender": new_sender(), "message": "what are your opening hours?"}) as response:
            assert response.status == 200 and await response.json()
        async with http.post(f"{service.url}/webhooks/rest/webhook", headers={"Authorization": f"Bearer {TOKEN}"},
                             json={"sender": new_sender(), "message": "hello"}) as response:
            assert response.status == 200


# -- a limit per client address --------------------------------------------------------------

async def test_rotating_rest_sender_ids_does_not_get_around_the_address_limit(service):
    client = address()
    async with aiohttp.ClientSession() as http:
        for _ in range(BURST):
            assert (await post(http, service.url, new_sender("rotating"), "hi", client)).status == 200
        refused = await post(http, service.url, new_sender("rotating"), "hi", client)
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) > 0
        async with http.post(f"{service.url}/webhooks/rest/webhook", params={"token": TOKEN},
                             headers={"X-Forwarded-For": client},
                             json={"sender": new_sender("rotating"), "message": "hi"}) as again:
            assert again.status == 429 and "network" in (await again.json())["error"]
        # Another customer behind the same proxy is not held up.
        assert (await post(http, service.url, new_sender("neighbour"), "hi", address())).status == 200


async def next_of(ws, kind: str, timeout: float = 30) -> dict:
    while True:
        frame = await ws.receive_json(timeout=timeout)
        if frame["type"] == kind:
            return frame


async def test_web_chat_senders_from_one_address_share_its_limit(service):
    client = address()
    async with aiohttp.ClientSession(headers={"X-Forwarded-For": client}) as http:
        for index in range(BURST + 1):
            async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={new_sender('web')}") as ws:
                await next_of(ws, "history")
                await ws.send_json({"type": "message", "text": "hi", "client_id": f"c{index}"})
                frame = await ws.receive_json(timeout=30)
                if index < BURST:
                    assert frame["type"] == "ack", frame
                else:
                    assert frame["type"] == "error" and "network" in frame["reason"] and frame["retry_after"] > 0
                    assert frame["client_id"] == f"c{index}"


async def test_socketio_sessions_from_one_address_share_its_limit(service):
    client = address()
    widgets = []
    try:
        for index in range(BURST + 1):
            widget = Widget()
            await widget.client.connect(service.url, socketio_path="socket.io", transports=["polling"],
                                        headers={"X-Forwarded-For": client}, wait_timeout=10)
            widgets.append(widget)
            session = await widget.session()
            await widget.say(session, "hi")
            event, data = await widget.next(timeout=60)
            if index < BURST:
                assert event == "bot_uttered", (event, data)
            else:
                assert event == "error" and "network" in data["reason"] and data["retry_after"] > 0
    finally:
        for widget in widgets:
            await widget.close()


# -- the human queue: a limit per address per hour -------------------------------------------

async def test_a_script_rotating_sender_ids_cannot_flood_the_human_queue(service):
    client = address()
    senders = [new_sender("angry") for _ in range(HANDOFFS + 2)]
    async with aiohttp.ClientSession() as http:
        answers = []
        for sender in senders:
            async with http.post(f"{service.url}/webhooks/rest/webhook", params={"token": TOKEN},
                                 headers={"X-Forwarded-For": client},
                                 json={"sender": sender, "message": ANGRY}) as response:
                assert response.status == 200
                answers.append([r["text"] for r in await response.json()])
        other = new_sender("angry-elsewhere")
        async with http.post(f"{service.url}/webhooks/rest/webhook", params={"token": TOKEN},
                             headers={"X-Forwarded-For": address()},
                             json={"sender": other, "message": ANGRY}) as response:
            assert response.status == 200
    database = service.env["DATABASE_URL"]
    queued = {row["customer"] for row in await asyncio.to_thread(cli_json, database, "queue")}
    assert len(queued & set(senders)) == HANDOFFS
    assert other in queued  # the limit is the address's, not everyone's
    # Beyond the limit the customer is still answered, politely, and the message is kept.
    refused = [s for s in senders if s not in queued]
    for sender, texts in zip(senders, answers):
        assert texts, f"{sender} got no answer"
        assert (HANDOFF_REFUSED in texts) == (sender in refused)
    for sender in refused:
        transcript = await asyncio.to_thread(cli_json, database, "transcript", "--channel", "rest", "--sender", sender)
        (conversation,) = transcript["conversations"]
        assert conversation["status"] == "bot"
        assert [m["text"] for m in conversation["messages"] if m["author"] == "customer"] == [ANGRY]
