"""The bus between processes: Redis pub/sub, fanned out locally.

Notices are a shortcut, never the record: publishing while Redis is away logs and moves
on, and every loop polls the database anyway, so a Redis outage costs latency, not
messages. The reader reconnects on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from bot.bus import LocalBus

logger = logging.getLogger(__name__)


class RedisBus:
    def __init__(self, url: str, prefix: str = "assistant:", publish_timeout: float = 1.0) -> None:
        import redis.asyncio as redis

        # health_check_interval: a connection silently dropped by the network is noticed
        # (and replaced) instead of blocking the reader forever.
        self._redis = redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15)
        self._prefix = prefix
        self._local = LocalBus()
        self._reader: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self.publish_timeout = publish_timeout
        # Publishing backs off after a failure, so a webhook never waits on a Redis that is
        # away: its notice is dropped at once and the database polls stand in for it.
        self._failures = 0
        self._paused_until = 0.0
        self.dropped = 0

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._redis.close()

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Send a notice to every process; never raises and never waits long."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._paused_until:
            self.dropped += 1
            return
        try:
            await asyncio.wait_for(self._redis.publish(self._prefix + topic, json.dumps(data)), self.publish_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Redis away: the database polls cover for it
            self._failures += 1
            self.dropped += 1
            pause = min(0.5 * 2 ** (self._failures - 1), 10.0)
            self._paused_until = loop.time() + pause
            if self._failures == 1 or self._failures % 20 == 0:
                logger.error("bus notice %s not published: Redis unavailable (%s: %s); notices paused "
                             "for %.1fs, the database polls stand in (failure %d)", topic,
                             type(error).__name__, error, pause, self._failures)
            return
        if self._failures:
            logger.info("Redis is back: bus notices published again (%d dropped meanwhile)", self.dropped)
            self._failures, self.dropped = 0, 0

    def subscribe(self, topic: str):
        return self._local.subscribe(topic)

    async def _read_forever(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                if delay > 0.5:
                    logger.info("Redis bus reconnected")
                self.connected.set()
                delay = 0.5
                while True:
                    # A short read timeout, not listen(): a quiet bus is not an error, and
                    # each round lets the client PING (health_check_interval), so a
                    # connection the network dropped silently is found and replaced.
                    notice = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if notice is None or notice.get("type") != "pmessage":
                        continue
                    channel = notice["channel"].decode() if isinstance(notice["channel"], bytes) else notice["channel"]
                    await self._local.publish(channel[len(self._prefix):], json.loads(notice["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.connected.is_set() or delay == 0.5:
                    logger.error("Redis bus disconnected (%s: %s); reconnecting with backoff",
                                 type(error).__name__, error)
                self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                try:
                    await pubsub.close()
                except Exception:
                    pass
