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


async def test_the_bus_survives_redis_going_away_and_coming_back(caplog):
    """Cut between us and Redis: publishing neither raises nor waits, and it all resumes."""
    from tests.support.tcp_proxy import TcpProxy

    require("Redis", "127.0.0.1", 6379)
    proxy = TcpProxy("127.0.0.1", 6379).start()
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    sender, receiver = RedisBus(f"redis://127.0.0.1:{proxy.port}/0", prefix), RedisBus(REDIS_URL, prefix)
    try:
        for bus in (sender, receiver):
            await bus.start()
            await asyncio.wait_for(bus.connected.wait(), 5)
        async with receiver.subscribe("inbox") as subscription:
            proxy.cut()
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(50):
                await sender.publish("inbox", {"lost": True})
            assert loop.time() - started < 3, "publishing waited on the missing Redis"
            assert "Redis unavailable" in caplog.text
            proxy.restore()
            await asyncio.wait_for(sender.connected.wait(), 15)
            for _ in range(100):  # the publisher's pause after the failure runs out
                await sender.publish("inbox", {"back": True})
                if await subscription.get(timeout=0.2) == {"back": True}:
                    break
            else:
                raise AssertionError("no notice got through after Redis came back")
    finally:
        for bus in (sender, receiver):
            await bus.close()
        proxy.stop()
