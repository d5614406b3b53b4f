"""Rasa's callback channel: the fixtures, sends against a fake receiver on loopback (with
retries), and the running service answering through the callback URL; beside it, plain
REST customers, whom an agent's reply cannot reach, and the console saying so."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.messages import Button, OutgoingMessage
from bot.settings import Settings
from channels.base import Delivery, WebhookRejected, WebhookRequest
from channels.callback import CallbackChannel
from channels.registry import build_platform_channels
from tests.support.client import add_account as piped_account, cli, cli_json, new_sender, responses, say
from tests.support.fake_platform import FakePlatform, Scripted
from tests.support.payloads import FIXTURES, expected, fixture_names, normalised, payload

NEW_UUID = "<new uuid>"


def channel_for(url: str = "http://127.0.0.1:9/hook") -> CallbackChannel:
    return CallbackChannel(Settings.from_mapping({"CALLBACK_URL": url}), HttpClient(5))


def request(body: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", headers={"Content-Type": "application/json"}, query={}, body=body,
                          client_address="192.0.2.10")


# -- 1. parsing: every fixture against its declared expectation ------------------------------

@pytest.mark.parametrize("name", fixture_names("callback"))
def test_every_fixture_parses_to_its_declared_result(name):
    declared = json.loads((FIXTURES / "callback" / f"{name}.expected.json").read_text())
    if isinstance(declared, dict):  # a refusal
        with pytest.raises(WebhookRejected) as rejected:
            channel_for().parse(request(payload("callback", name)))
        assert (rejected.value.status, rejected.value.reason) == (declared["status"], declared["error"])
        return
    parsed = [normalised(m) for m in channel_for().parse(request(payload("callback", name)))]
    wanted = expected("callback", name)
    for got, want in zip(parsed, wanted):
        if want["message_id"] == NEW_UUID and re.fullmatch(r"[0-9a-f]{32}", got["message_id"]):
            want["message_id"] = got["message_id"]
        want["client_address"] = "192.0.2.10"  # an open channel: the limits per address apply
    assert parsed == wanted


def test_callback_is_off_until_its_url_is_set():
    channels = build_platform_channels(Settings.from_mapping({}), HttpClient(1), LocalBus())
    assert channels["callback"].missing_settings == ("CALLBACK_URL",)
    assert channel_for().missing_settings == ()


# -- 2. sending: a fake receiver on loopback -------------------------------------------------

@pytest.fixture
def receiver():
    server = FakePlatform(default=lambda recorded: (200, "ok")).start()
    yield server
    server.stop()


def delivery(text: str = "Your parcel left Hamburg today.", **kwargs) -> Delivery:
    message = OutgoingMessage(channel="callback", recipient_id="order-app-5521", text=text, **kwargs)
    return Delivery(message, history_id=41, idempotency_key="key-41")


async def test_a_reply_is_posted_as_rasa_posts_it(receiver):
    channel = channel_for(f"{receiver.url}/hook")
    result = await channel.send(delivery(buttons=(Button("Thanks!", "/thank"),)))
    await channel.http.close()
    assert result.ok and result.platform_message_id == "callback-41"
    (posted,) = receiver.received("/hook")
    assert posted.method == "POST" and posted.headers["Idempotency-Key"] == "key-41"
    assert posted.json == {"recipient_id": "order-app-5521", "text": "Your parcel left Hamburg today.",
                           "buttons": [{"title": "Thanks!", "payload": "/thank"}]}


@pytest.mark.parametrize("status, headers, retried, after", [
    (503, {}, True, None),
    (429, {"Retry-After": "7"}, True, 7.0),
    (408, {}, True, None),
    (400, {}, False, None),
    (404, {}, False, None),
])
async def test_a_refused_post_is_retried_only_when_that_can_help(receiver, status, headers, retried, after):
    receiver.script("/hook", Scripted(status, {"error": "no"}, headers))
    channel = channel_for(f"{receiver.url}/hook")
    result = await channel.send(delivery())
    await channel.http.close()
    assert not result.ok and result.permanent is (not retried) and str(status) in result.error
    assert result.retry_after == after


async def test_an_unreachable_url_is_retried():
    channel = channel_for("http://127.0.0.1:9/hook")  # the discard port: nothing listens
    result = await channel.send(delivery())
    await channel.http.close()
    assert not result.ok and not result.permanent and "unreachable" in result.error


# -- 3. the running service -----------------------------------------------------------------


@pytest.fixture(scope="module")
def hook():
    server = FakePlatform(default=lambda recorded: (200, "ok")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(start_service, hook):
    return start_service(CALLBACK_URL=f"{hook.url}/hook", OUTBOX_BACKOFF_BASE="0.2", OUTBOX_BACKOFF_MAX="1",
                         BUSINESS_HOURS="always")


def posts_to(hook: FakePlatform, recipient: str) -> list[dict]:
    return [r.json for r in hook.received("/hook") if (r.json or {}).get("recipient_id") == recipient]


async def write(service, sender: str, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/callback/webhook",
                             json={"sender": sender, "message": text}) as response:
            assert response.status == 200 and await response.text() == "success"


async def wait_until(check, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if found := await asyncio.to_thread(check):
            return found
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.2)


def delivery_statuses(service, channel: str, sender: str, author: str) -> list[str | None]:
    transcript = cli_json(service.env["DATABASE_URL"], "transcript", "--channel", channel, "--sender", sender)
    return [m["delivery_status"] for c in transcript["conversations"] for m in c["messages"] if m["author"] == author]


@pytest.mark.slow
async def test_the_answer_is_posted_to_the_callback_url(service, hook):
    sender = new_sender("app")
    await write(service, sender, "what are your opening hours?")
    (posted, *_) = await wait_until(lambda: posts_to(hook, sender))
    assert posted["text"] in responses()["utter_opening_hours"]
    assert await wait_until(lambda: delivery_statuses(service, "callback", sender, "bot") == ["sent"])


@pytest.mark.slow
async def test_a_failing_callback_url_is_retried_until_it_takes_the_reply(service, hook):
    sender = new_sender("app")
    hook.script("/hook", Scripted(503, "busy"), Scripted(429, "slow down", {"Retry-After": "1"}))
    await write(service, sender, "what are your opening hours?")
    tries = await wait_until(lambda: len(posts := posts_to(hook, sender)) >= 3 and posts)
    assert len(tries) == 3 and len({json.dumps(t, sort_keys=True) for t in tries}) == 1  # the same reply
    assert await wait_until(lambda: delivery_statuses(service, "callback", sender, "bot") == ["sent"])


@pytest.mark.slow
async def test_an_agent_reply_reaches_a_callback_customer_but_not_a_rest_one(service, hook):
    database = service.env["DATABASE_URL"]
    password = await asyncio.to_thread(piped_account, database, "cleo", "agent")
    app_customer, rest_customer = new_sender("app"), new_sender("rest")
    await write(service, app_customer, "I want to talk to a human")
    await say(service.url, rest_customer, "I want to talk to a human")

    def queued() -> dict[str, int]:
        rows = cli_json(database, "queue")
        found = {r["customer"]: r["conversation"] for r in rows if r["customer"] in (app_customer, rest_customer)}
        return found if len(found) == 2 else {}

    conversations = await wait_until(queued)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{service.url}/console/login") as response:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        async with http.post(f"{service.url}/console/login", allow_redirects=False,
                             data={"csrf_token": csrf, "name": "cleo", "password": password}) as response:
            assert response.status == 303
        async with http.get(f"{service.url}/console/") as response:
            token = re.search(r'name="csrf-token" content="([^"]+)"', await response.text()).group(1)
        api = f"{service.url}/console/api/conversations"
        headers = {"X-CSRF-Token": token}

        # Before writing, the agent is told which customer cannot receive a reply.
        records = {}
        for customer, conversation in conversations.items():
            async with http.get(f"{api}/{conversation}") as response:
                records[customer] = (await response.json())["conversation"]
        assert "cannot reach them" in records[rest_customer]["reply_notice"]
        assert records[app_customer]["reply_notice"] is None

        for customer, conversation in conversations.items():
            async with http.post(f"{api}/{conversation}/claim", headers=headers) as response:
                assert response.status == 200, await response.text()
            async with http.post(f"{api}/{conversation}/reply", headers=headers,
                                 json={"text": f"Hi {customer}, Cleo here."}) as response:
                assert response.status == 200, await response.text()

        async def agent_statuses(customer: str) -> list[str]:
            async with http.get(f"{api}/{conversations[customer]}") as response:
                return [m["delivery_status"] for m in (await response.json())["messages"] if m["author"] == "agent"]

        assert await agent_statuses(rest_customer) == ["not_deliverable"]
        posted = await wait_until(lambda: [p for p in posts_to(hook, app_customer) if "Cleo" in p.get("text", "")])
        assert posted == [{"recipient_id": app_customer, "text": f"Hi {app_customer}, Cleo here."}]
        for _ in range(100):
            if await agent_statuses(app_customer) == ["sent"]:
                break
            await asyncio.sleep(0.2)
        assert await agent_statuses(app_customer) == ["sent"]
