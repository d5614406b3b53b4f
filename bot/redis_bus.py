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
    def __init__(self, url: str, prefix: str = "assistant:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._prefix = prefix
        self._local = LocalBus()
        self._reader: asyncio.Task | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._redis.close()

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        try:
            await self._redis.publish(self._prefix + topic, json.dumps(data))
        except Exception as error:  # Redis away: the database polls cover for it
            logger.warning("bus notice %s not published (Redis unavailable: %s)", topic, error)

    def subscribe(self, topic: str):
        return self._local.subscribe(topic)

    async def _read_forever(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self.connected.set()
                delay = 0.5
                async for notice in pubsub.listen():
                    if notice.get("type") != "pmessage":
                        continue
                    channel = notice["channel"].decode() if isinstance(notice["channel"], bytes) else notice["channel"]
                    await self._local.publish(channel[len(self._prefix):], json.loads(notice["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.connected.clear()
                logger.warning("Redis bus disconnected (%s); reconnecting in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                try:
                    await pubsub.close()
                except Exception:
                    pass
