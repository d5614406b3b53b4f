"""Rasa's event broker on the machine's RabbitMQ: every tracker event is published as Rasa's
pika broker sends it, through one connection for the engine's life, closed at stop."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from bot.app import build_engine
from bot.messages import rasa_sender_id
from bot.settings import Settings, endpoint_variables
from bot.storage.migrate import upgrade
from bot.training.project import Project
from tests.support.client import new_sender
from tests.support.model import cached_model
from tests.support.rabbitmq import (
    RABBITMQ_URL,
    amqp_connections,
    event_queue,
    new_queue_name,
    wait_for_connections,
)
from tests.training.conftest import TINY

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def broker_settings(tmp_path, queue: str) -> Settings:
    settings = Settings.from_mapping({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}",
                                      "RABBITMQ_URL": RABBITMQ_URL, "RABBITMQ_QUEUE": queue})
    upgrade(settings.sync_database_url)  # the demo's order actions read the service's database
    return settings


def stored_events(settings: Settings, sender_id: str) -> list[dict]:
    """The events Rasa's tracker store keeps for `sender_id`, as it serialised them."""
    connection = sqlite3.connect(endpoint_variables(settings)["TRACKER_DB"])
    try:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,))
        return [json.loads(data) for (data,) in rows]
    finally:
        connection.close()


def texts(events: list[dict], kind: str) -> list[str]:
    return [e["text"] for e in events if e["event"] == kind]


async def test_every_tracker_event_is_published_as_rasas_pika_broker_sends_it(model, tmp_path):
    queue_name = new_queue_name()
    settings = broker_settings(tmp_path, queue_name)
    # The id the engine is given is the tracker's: the one consumers see.
    sender = rasa_sender_id("rest", new_sender("broker"))
    async with event_queue(queue_name) as queue:
        engine = build_engine(settings, model)
        await engine.start()
        try:
            await engine.handle(sender, "hello", channel="rest", message_id="m1")
            await engine.handle(sender, "what are your opening hours?", channel="rest", message_id="m2")
        finally:
            # At once: the last turn's events are still being published, and must arrive.
            await engine.stop()
        stored = stored_events(settings, sender)
        await queue.read_until(lambda _: len(queue.of(sender)) >= len(stored))
        published = queue.of(sender)

    # Rasa's pika broker: one JSON message per event, `sender_id` beside the event's own
    # dict, in the order the tracker store saved them.
    assert published == [{"sender_id": sender, **event} for event in stored]
    assert texts(published, "user") == ["hello", "what are your opening hours?"]
    assert texts(published, "bot"), published
    for event in published:
        assert isinstance(event["event"], str) and isinstance(event["timestamp"], float), event
    user = next(e for e in published if e["event"] == "user")
    assert user["parse_data"]["intent"]["name"] and user["input_channel"] == "rest" and user["message_id"] == "m1"
    assert {"action_session_start", "action_listen"} <= {e.get("name") for e in published if e["event"] == "action"}


async def test_model_swaps_keep_one_connection_and_stop_closes_it(tmp_path):
    tiny = cached_model(Project.at(TINY), "tiny")
    versions = []
    for n in range(3):
        versions.append(tmp_path / f"tiny-v{n + 2}.tar.gz")
        shutil.copy(tiny, versions[-1])
    queue_name = new_queue_name()
    sender = rasa_sender_id("rest", new_sender("swaps"))
    me = os.getpid()
    async with event_queue(queue_name) as queue:
        # The reading connection, and any other test's, are counted in this baseline.
        before = amqp_connections(me)
        engine = build_engine(broker_settings(tmp_path, queue_name), tiny)
        await engine.start()
        try:
            assert await wait_for_connections(me, before + 1) == before + 1
            for version in versions:
                await engine.swap(version)
                assert await wait_for_connections(me, before + 1) == before + 1
            assert engine.model_name == versions[-1].name
            # The last model publishes through the connection the first one opened.
            turn = await engine.handle(sender, "hello", channel="rest", message_id="m1")
        finally:
            await engine.stop()
        assert await wait_for_connections(me, before) == before
        await queue.read_until(lambda _: "bot" in {e["event"] for e in queue.of(sender)})

    assert [r.text for r in turn.replies] == ["Hello from the tiny bot!"]
    assert texts(queue.of(sender), "user") == ["hello"]
    assert texts(queue.of(sender), "bot") == ["Hello from the tiny bot!"]


async def test_a_failed_start_leaves_no_connection_behind(tmp_path):
    queue_name = new_queue_name()
    me = os.getpid()
    async with event_queue(queue_name):
        before = amqp_connections(me)
        engine = build_engine(broker_settings(tmp_path, queue_name), tmp_path / "missing.tar.gz")
        with pytest.raises(Exception, match="missing.tar.gz"):
            await engine.start()
        assert await wait_for_connections(me, before) == before
