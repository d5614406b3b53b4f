"""The engine's tracker store writes what Rasa's SQLTrackerStore writes, and never hands
out a tracker another process has moved on from (two stores on one database stand for
two dialogue workers)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered

from bot.tracker_store import CachingSQLTrackerStore

DOMAIN = Domain.from_yaml("version: '3.1'\nintents: [greet, thank]\nresponses:\n  utter_greet: [{text: hi}]\n")


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


def store(path, cls=CachingSQLTrackerStore, **kwargs):
    made = cls(domain=DOMAIN, dialect="sqlite", db=str(path), **kwargs)
    return made


def said(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9})


def rows(path) -> list[tuple]:
    """The stored rows, their times left out (two runs never share them)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = connection.execute(sa.text(
            "SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id")).all()
    engine.dispose()
    return [(*r[:4], {k: v for k, v in json.loads(r[4]).items() if k != "timestamp"}) for r in found]


async def test_the_rows_are_the_ones_rasa_writes(tmp_path):
    ours, theirs = store(tmp_path / "ours.db"), store(tmp_path / "rasa.db", SQLTrackerStore)
    for tracker_store in (ours, theirs):
        tracker = await tracker_store.get_or_create_tracker("alice")
        tracker.update(said("hello", "greet"))
        tracker.update(ActionExecuted("utter_greet"))
        await tracker_store.save(tracker)
        tracker = await tracker_store.retrieve("alice")
        tracker.update(said("thanks", "thank"))
        await tracker_store.save(tracker)
    assert rows(tmp_path / "ours.db") == rows(tmp_path / "rasa.db")
    assert len(rows(tmp_path / "ours.db")) == 4  # action_listen, the two messages, the action


async def test_a_tracker_another_worker_moved_on_is_brought_up_to_date(tmp_path):
    one, two = store(tmp_path / "a.db"), store(tmp_path / "a.db")
    tracker = await one.get_or_create_tracker("bob")
    tracker.update(said("hello", "greet"))
    await one.save(tracker)
    assert await one.retrieve("bob") is tracker  # unchanged: the same tracker, no replay

    for turn in ("thanks", "bye"):
        elsewhere = await two.retrieve("bob")
        elsewhere.update(ActionExecuted("utter_greet"))
        elsewhere.update(said(turn, "thank"))
        await two.save(elsewhere)

        fresh = await one.retrieve("bob")
        rasa_view = await store(tmp_path / "a.db", SQLTrackerStore).retrieve("bob")
        assert [e.as_dict() for e in fresh.events] == [e.as_dict() for e in rasa_view.events]
        assert fresh is tracker and fresh.latest_message.text == turn
        assert fresh.current_state() == rasa_view.current_state()
    fresh.update(ActionExecuted("utter_greet"))
    await one.save(fresh)
    assert rows(tmp_path / "a.db")[-1][3] == "utter_greet" and len(rows(tmp_path / "a.db")) == 7


async def test_a_tracker_changed_but_not_saved_is_not_reused(tmp_path):
    tracker_store = store(tmp_path / "b.db")
    tracker = await tracker_store.get_or_create_tracker("carol")
    await tracker_store.save(tracker)
    tracker.update(said("lost in a crash", "greet"))  # the turn failed before its save
    again = await tracker_store.retrieve("carol")
    assert again is not tracker and again.latest_message.text != "lost in a crash"


async def test_a_new_session_is_read_as_rasa_reads_it(tmp_path):
    tracker_store = store(tmp_path / "c.db")
    tracker = await tracker_store.get_or_create_tracker("dave")
    tracker.update(said("hello", "greet"))
    await tracker_store.save(tracker)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(said("back again", "greet"))
    await tracker_store.save(tracker)
    reread = await tracker_store.retrieve("dave")
    rasa_view = await store(tmp_path / "c.db", SQLTrackerStore).retrieve("dave")
    assert reread is not tracker
    assert [e.as_dict() for e in reread.events] == [e.as_dict() for e in rasa_view.events]


@pytest.mark.parametrize("turns", [1, 3])
async def test_the_event_broker_gets_each_new_event_once(tmp_path, turns):
    broker = RecordingBroker()
    tracker_store = store(tmp_path / "d.db", event_broker=broker)
    tracker = await tracker_store.get_or_create_tracker("erin")
    for n in range(turns):
        tracker = await tracker_store.retrieve("erin")
        tracker.update(said(f"message {n}", "greet"))
        tracker.update(ActionExecuted("utter_greet"))
        await tracker_store.save(tracker)
    assert [e["event"] for e in broker.published] == ["action"] + ["user", "action"] * turns
    assert {e["sender_id"] for e in broker.published} == {"erin"}


async def test_the_sqlite_file_is_kept_in_wal_mode(tmp_path):
    """Rasa's default journal synced the disk twice per save; WAL with synchronous=NORMAL
    syncs at checkpoints, as the service's own database does."""
    tracker_store = store(tmp_path / "tracker.db")
    tracker = await tracker_store.get_or_create_tracker("alice")
    tracker.update(said("hello", "greet"))
    await tracker_store.save(tracker)
    with tracker_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


async def test_an_erased_conversation_is_not_handed_out_from_memory(tmp_path):
    path = tmp_path / "tracker.db"
    tracker_store = store(path)
    tracker = await tracker_store.get_or_create_tracker("rest:erin")
    tracker.update(said("my address is 12 Elm Street", "greet"))
    await tracker_store.save(tracker)
    assert (await tracker_store.retrieve("rest:erin")) is not None  # kept in memory now
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:  # what bot/privacy/erase.py does
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = 'rest:erin'"))
    engine.dispose()
    assert await tracker_store.retrieve("rest:erin") is None
    fresh = await tracker_store.get_or_create_tracker("rest:erin")
    assert not any(isinstance(e, UserUttered) for e in fresh.events)
