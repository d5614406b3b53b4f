"""The machine's RabbitMQ for the event-broker tests: a queue of the test's own, the events
read back from it, and the AMQP connections a process holds (read from /proc)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.support.services import require

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
AMQP_PORT = 5672
_ESTABLISHED = "01"


def require_rabbitmq() -> None:
    require("RabbitMQ", "127.0.0.1", AMQP_PORT)


def new_queue_name() -> str:
    # Every queue bound to Rasa's fanout exchange gets every event: one per test, so a test
    # reads only from its own queue, and tells its conversations apart by sender id.
    return f"assistant_test_{uuid.uuid4().hex[:10]}"


class EventQueue:
    """One durable queue, declared as Rasa's pika broker declares it, read without acks."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        self.received: list[dict[str, Any]] = []

    async def read_until(self, done: Callable[[list[dict[str, Any]]], bool],
                         timeout: float = 30.0) -> list[dict[str, Any]]:
        """Everything received so far once `done` holds for it; what came if time runs out."""
        deadline = time.monotonic() + timeout
        while not done(self.received) and time.monotonic() < deadline:
            message = await self._queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            self.received.append(json.loads(message.body))
        return self.received

    def of(self, sender_id: str) -> list[dict[str, Any]]:
        return [event for event in self.received if event.get("sender_id") == sender_id]


@asynccontextmanager
async def event_queue(name: str) -> AsyncIterator[EventQueue]:
    """The queue `name`, deleted afterwards: a durable queue left bound to the exchange would
    keep collecting every later run's events on the server."""
    import aio_pika

    require_rabbitmq()
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True)
        try:
            yield EventQueue(queue)
        finally:
            await channel.queue_delete(name)
    finally:
        await connection.close()


def amqp_connections(pid: int) -> int:
    """The established TCP connections process `pid` holds to the AMQP port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    count = 0
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == AMQP_PORT and fields[3] == _ESTABLISHED and fields[9] in inodes:
                count += 1
    return count


async def wait_for_connections(pid: int, expected: int, timeout: float = 10.0) -> int:
    """The count once it is `expected`, or the last one seen: a close takes a moment."""
    deadline = time.monotonic() + timeout
    while (count := amqp_connections(pid)) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return count
