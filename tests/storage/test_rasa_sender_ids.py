"""Migration 0014: Rasa's trackers of REST, callback and socket.io senders are renamed to
the ids their clients send, as under `rasa run`; platforms' keep their channel."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from bot.settings import Settings
from bot.storage.migrate import alembic_config, upgrade
from tests.support.tracker import Tracker

# Rasa's SQLTrackerStore table, the columns the migration reads and writes.
EVENTS = "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255))"
BEFORE = ["rest:alice", "rest:alice", "socketio:5f0c9a", "callback:crm-7", "telegram:42", "whatsapp:447700900123"]


def sender_ids(tracker: Tracker) -> list[str]:
    return [row[0] for row in tracker.run("SELECT sender_id FROM events ORDER BY id")]


def test_named_senders_lose_the_channel_and_a_downgrade_puts_it_back(database_url):
    url = Settings.from_mapping({"DATABASE_URL": database_url}).sync_database_url
    upgrade(url, "0013")
    tracker = Tracker(url)
    tracker.run(EVENTS)
    for id_, sender in enumerate(BEFORE, 1):
        tracker.run(f"INSERT INTO events (id, sender_id, type_name) VALUES ({id_}, '{sender}', 'user')")
    engine = create_engine(url)
    with engine.begin() as connection:
        for id_, channel, sender in ((1, "rest", "alice"), (2, "socketio", "5f0c9a"), (3, "callback", "crm-7"),
                                     (4, "telegram", "42")):
            connection.execute(text("INSERT INTO customers (id, channel, external_id, created_at) "
                                    "VALUES (:id, :channel, :sender, '2026-12-01 10:00:00')"),
                               {"id": id_, "channel": channel, "sender": sender})
    engine.dispose()

    upgrade(url)
    assert sender_ids(tracker) == ["alice", "alice", "5f0c9a", "crm-7", "telegram:42", "whatsapp:447700900123"]

    command.downgrade(alembic_config(url), "0013")
    assert sender_ids(tracker) == BEFORE
    upgrade(url)
    assert sender_ids(tracker)[:4] == ["alice", "alice", "5f0c9a", "crm-7"]


def test_a_database_without_a_tracker_yet_migrates(database_url):
    url = Settings.from_mapping({"DATABASE_URL": database_url}).sync_database_url
    upgrade(url)
    command.downgrade(alembic_config(url), "0013")
    upgrade(url)
    assert Tracker(url).file is None or not Tracker(url).file.exists()
