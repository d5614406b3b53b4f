"""Publish/subscribe between the parts of the service: new work, finished work, live updates.

The in-process bus serves the single-process mode; the Redis bus (bot/redis_bus.py)
carries the same topics between processes. Nothing depends on a notice arriving: every
loop also polls the database, so a lost notice only costs latency.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol


class Subscription(Protocol):
    async def get(self, timeout: float | None = None) -> dict[str, Any] | None: ...


class Bus(Protocol):
    async def publish(self, topic: str, data: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str) -> Any:
        """An async context manager yielding a Subscription."""


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def put(self, data: dict[str, Any]) -> None:
        if self.queue.full():
            # A stalled subscriber loses its oldest notice rather than blocking publishers.
            self.queue.get_nowait()
        self.queue.put_nowait(data)


class LocalBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = defaultdict(set)

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.put(data)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription()
        self._subscribers[topic].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[topic].discard(subscription)
            if not self._subscribers[topic]:
                del self._subscribers[topic]

    async def close(self) -> None:
        self._subscribers.clear()


def processed_topic(inbox_id: int) -> str:
    return f"processed:{inbox_id}"


def customer_topic(conversation_key: str) -> str:
    return f"customer:{conversation_key}"


INBOX_TOPIC = "inbox"
OUTBOX_TOPIC = "outbox"
CONSOLE_TOPIC = "console"
# Training runs and model activations, for the trainers' pages.
TRAINING_TOPIC = "training"
# Console sessions ended (logout, account disabled, password changed): open console
# WebSockets check whether theirs still exists.
SESSIONS_TOPIC = "console-sessions"
# Reputation and queue alerts raised or ended (bot/reputation/), for the supervisors' banner.
ALERTS_TOPIC = "alerts"
