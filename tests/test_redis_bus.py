"""The bus between processes, on the machine's real Redis."""

import asyncio
import uuid

import pytest

from bot.redis_bus import RedisBus
from tests.support.services import REDIS_URL, require

pytestmark = pytest.mark.redis


@pytest.fixture
async def buses():
    require("Redis", "127.0.0.1", 6379)
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    first, second = RedisBus(REDIS_URL, prefix), RedisBus(REDIS_URL, prefix)
    for bus in (first, second):
        await bus.start()
        await asyncio.wait_for(bus.connected.wait(), 5)
    yield first, second
    for bus in (first, second):
        await bus.close()


async def test_a_notice_published_in_one_process_reaches_subscribers_of_another(buses):
    first, second = buses
    async with second.subscribe("customer:webchat:abc") as subscription:
        await asyncio.sleep(0.1)
        await first.publish("customer:webchat:abc", {"type": "status", "status": "queued"})
        assert await subscription.get(timeout=5) == {"type": "status", "status": "queued"}


async def test_other_topics_are_not_delivered(buses):
    first, second = buses
    async with second.subscribe("processed:1") as subscription:
        await first.publish("processed:2", {"inbox_id": 2})
        assert await subscription.get(timeout=0.5) is None


async def test_publishing_without_redis_logs_instead_of_failing(caplog):
    bus = RedisBus("redis://127.0.0.1:1/0")
    await bus.publish("inbox", {})
    assert "not published" in caplog.text
    await bus.close()
