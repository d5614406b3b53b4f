"""`bot run` with RABBITMQ_URL: a REST conversation's tracker events reach RabbitMQ as Rasa
sends them, from the engine process, through one connection it keeps across model swaps
and closes when the service stops."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from bot.messages import IncomingMessage, rasa_sender_id
from bot.training.project import Project
from bot.training.registry import Registry
from tests.support.client import is_response, new_sender, say
from tests.support.model import cached_model
from tests.support.process import ServiceProcess
from tests.support.rabbitmq import RABBITMQ_URL, amqp_connections, event_queue, new_queue_name, wait_for_connections
from tests.training.conftest import TINY

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def engine_child(service: ServiceProcess) -> int:
    pid = service.process.pid
    (child,) = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                if "bot.engine_process" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
    return child


def tracker_events(database: Path, sender_ids: set[str]) -> dict[str, list[dict]]:
    """Rasa's tracker rows of these sender ids, as its tracker store serialised them."""
    connection = sqlite3.connect(database.with_name("assistant-tracker.db"))
    try:
        marks = ",".join("?" * len(sender_ids))
        rows = connection.execute(f"SELECT sender_id, data FROM events WHERE sender_id IN ({marks}) ORDER BY id",
                                  sorted(sender_ids)).fetchall()
    finally:
        connection.close()
    events: dict[str, list[dict]] = {}
    for sender_id, data in rows:
        events.setdefault(sender_id, []).append(json.loads(data))
    return events


def ids_inside_rasa(sender: str) -> set[str]:
    # The worker gives the engine the conversation's Rasa sender id; while it gave the
    # history's key instead, that was the tracker's id. Whichever it is, the events carry it.
    message = IncomingMessage(channel="rest", sender_id=sender, text="", message_id="")
    return {rasa_sender_id("rest", sender), message.conversation_key}


async def activated(service: ServiceProcess, registry: Registry, version: str, timeout: float = 300) -> None:
    registry.activate(version)
    deadline = time.monotonic() + timeout
    while service.health()["model"] != f"{version}.tar.gz":
        assert time.monotonic() < deadline, service.log()
        await asyncio.sleep(0.2)


@pytest.mark.timeout(900)
async def test_the_service_publishes_through_one_connection_across_model_swaps(model, tmp_path):
    registry = Registry(tmp_path / "models")
    tiny = cached_model(Project.at(TINY), "tiny")
    swaps = ["tiny-v2", "tiny-v3", "tiny-v4"]
    for version, source in [("demo-v1", model)] + [(v, tiny) for v in swaps]:
        copy = tmp_path / f"{version}.tar.gz"
        shutil.copy(source, copy)
        registry.add(copy, fingerprint=version)
    registry.activate("demo-v1")
    database = tmp_path / "assistant.db"
    queue_name = new_queue_name()
    customer, later = new_sender("broker"), new_sender("broker-swapped")

    async with event_queue(queue_name) as queue:
        service = ServiceProcess({"DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                                  "MODELS_DIR": str(tmp_path / "models"), "MODEL_POLL_INTERVAL": "0.3",
                                  "POLL_INTERVAL": "0.2", "DEMO_ORDERS": "true", "CONSOLE_FIRST_ADMIN": "false",
                                  "RABBITMQ_URL": RABBITMQ_URL, "RABBITMQ_QUEUE": queue_name}).start()
        try:
            child = engine_child(service)
            # The model's process holds the broker; the web side publishes nothing.
            assert await wait_for_connections(child, 1) == 1
            assert amqp_connections(service.process.pid) == 0
            hello = await say(service.url, customer, "hello")
            hours = await say(service.url, customer, "what are your opening hours?")
            for version in swaps:
                await activated(service, registry, version)
                assert await wait_for_connections(child, 1) == 1, f"after the swap to {version}"
            assert engine_child(service) == child  # swapped in place, never restarted
            swapped = await say(service.url, later, "hello")
        finally:
            service.stop()
        assert not Path(f"/proc/{child}").exists()

        stored = tracker_events(database, ids_inside_rasa(customer) | ids_inside_rasa(later))
        (customer_id,) = set(stored) & ids_inside_rasa(customer)
        (later_id,) = set(stored) & ids_inside_rasa(later)
        # Read after the stop: the last turn's events were published before the engine closed.
        await queue.read_until(lambda _: all(len(queue.of(i)) >= len(stored[i]) for i in (customer_id, later_id)))

    assert [r["text"] for r in hello] and [r["text"] for r in swapped] == ["Hello from the tiny bot!"]
    assert any(is_response(r["text"], "utter_opening_hours") for r in hours)
    for sender_id in (customer_id, later_id):
        published = queue.of(sender_id)
        assert published == [{"sender_id": sender_id, **event} for event in stored[sender_id]]
        assert all(isinstance(e["event"], str) and isinstance(e["timestamp"], float) for e in published)
    assert [e["text"] for e in queue.of(customer_id) if e["event"] == "user"] == ["hello", "what are your opening hours?"]
    assert [e["text"] for e in queue.of(later_id) if e["event"] == "bot"] == ["Hello from the tiny bot!"]
