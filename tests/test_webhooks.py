"""The route factory's body limits: customers' own clients get a small one, platforms a
large one, because one platform delivery may batch hundreds of updates."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bus import INBOX_TOPIC, LocalBus
from bot.inbox import Inbox
from bot.settings import Settings
from bot.storage import inbox as inbox_store
from bot.webhooks import channel_routes, rest_routes
from channels.rest import RestChannel
from tests.channels.test_whatsapp import channel_for, signed
from tests.support.payloads import payload


def whatsapp_batch(count: int) -> bytes:
    """`count` text messages in one delivery, each with its own wamid."""
    delivery = json.loads(payload("whatsapp", "text"))
    value = delivery["entry"][0]["changes"][0]["value"]
    (message,) = value["messages"]
    value["messages"] = [{**message, "id": f"wamid.batch-{n}", "text": {"body": f"question {n} " + "x" * 900}}
                         for n in range(count)]
    return json.dumps(delivery).encode()


async def test_a_platform_batch_above_the_rest_limit_is_accepted_whole_and_rest_keeps_its_limit(db):
    settings = Settings()
    inbox = Inbox(db, LocalBus())
    # As the composition root builds it: the application reads up to the largest route limit.
    app = web.Application(client_max_size=max(settings.max_body_bytes, settings.platform_max_body_bytes))
    app.router.add_routes(channel_routes(channel_for(), inbox, settings.platform_max_body_bytes))
    app.router.add_routes(rest_routes(RestChannel(), inbox, 1.0, settings.max_body_bytes))
    batch = whatsapp_batch(800)
    assert settings.max_body_bytes < len(batch) < settings.platform_max_body_bytes
    async with TestClient(TestServer(app)) as client:
        accepted = await client.post("/webhooks/whatsapp/webhook", data=batch, headers=signed(batch))
        assert accepted.status == 200
        assert (await accepted.json())["accepted"] == 800
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 800

        too_big = json.dumps({"sender": "a", "message": "x" * settings.max_body_bytes}).encode()
        refused = await client.post("/webhooks/rest/webhook", data=too_big,
                                    headers={"Content-Type": "application/json"})
        assert refused.status == 413
        assert str(settings.max_body_bytes) in (await refused.json())["error"]

        huge = b"{" + b" " * (settings.platform_max_body_bytes + 1) + b"}"
        refused = await client.post("/webhooks/whatsapp/webhook", data=huge, headers=signed(huge))
        assert refused.status == 413


class StalledBus(LocalBus):
    """A bus whose notices hang until released, as Redis's do when it is slow or away."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def publish(self, topic: str, data: dict) -> None:
        await self.release.wait()
        await super().publish(topic, data)


async def test_the_acknowledgement_does_not_wait_for_the_workers_notice(db):
    bus = StalledBus()
    inbox = Inbox(db, bus)
    app = web.Application()
    app.router.add_routes(channel_routes(channel_for(), inbox, Settings().platform_max_body_bytes))
    body = payload("whatsapp", "text")
    async with bus.subscribe(INBOX_TOPIC) as notices, TestClient(TestServer(app)) as client:
        acknowledged = await asyncio.wait_for(
            client.post("/webhooks/whatsapp/webhook", data=body, headers=signed(body)), 5)
        assert acknowledged.status == 200
        async with db.session() as session:
            assert await inbox_store.count_unfinished(session) == 1
        assert await notices.get(timeout=0.05) is None  # still held by the bus
        bus.release.set()
        assert await notices.get(timeout=5) == {"count": 1}
