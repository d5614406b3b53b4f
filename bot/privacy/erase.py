"""Erasing a customer everywhere the service keeps data, for `python -m bot erase`, the
console and retention alike.

The history and work queues (bot/storage/erasure.py), Rasa's tracker (its `events`, in
the same PostgreSQL database or, on SQLite, a file of its own) and the files themselves:
SQLite keeps deleted rows readable in free pages and in its write-ahead log, so the
service's connections overwrite deleted content (`secure_delete`) and an erasure ends
with a checkpoint that empties the log; PostgreSQL keeps dead rows until VACUUM, which
runs on the touched tables. Text a trainer copied into the training data is listed for
the trainer to keep or drop, never changed here. What remains is an audit record with
counts: nothing that names the customer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import audit
from bot.settings import Settings, endpoint_variables
from bot.storage import erasure
from bot.storage.database import Database

logger = logging.getLogger(__name__)

TRACKER_TABLE = "events"


@dataclass(frozen=True)
class TrainingExample:
    """Customer text found in the training data: the trainer decides."""

    intent: str
    text: str


@dataclass(frozen=True)
class ErasureReport:
    rows: dict[str, int]
    tracker_events: int
    training_examples: tuple[TrainingExample, ...]

    @property
    def found(self) -> bool:
        return any(self.rows.values()) or self.tracker_events > 0


@dataclass(frozen=True)
class Tracker:
    """Where Rasa's tracker events are: the service's own database (PostgreSQL) or an
    SQLite file of their own."""

    sqlite_file: Path | None

    @classmethod
    def of(cls, settings: Settings) -> Tracker:
        if not settings.is_sqlite:
            return cls(None)
        database = endpoint_variables(settings)["TRACKER_DB"]
        return cls(Path(database) if database and database != ":memory:" else None)


async def erase_customer(db: Database, settings: Settings, channel: str, sender: str, *, actor: str,
                         now: datetime) -> ErasureReport:
    async with db.session() as session:
        found = await erasure.find_customer(session, channel, sender)
        rows = await erasure.erase(session, found)
        examples = training_examples(settings, found.texts)
        tracker_events = await _erase_tracker_in(session, db, found.tracker_ids)
        await audit.record(session, actor, "erase", f"channel:{channel}", now,
                           rows={k: v for k, v in rows.items() if v}, tracker_events=tracker_events,
                           training_examples_listed=len(examples))
    tracker_events += await erase_tracker_file(Tracker.of(settings), found.tracker_ids)
    await compact(db, Tracker.of(settings))
    return ErasureReport(rows, tracker_events, examples)


async def _erase_tracker_in(session, db: Database, keys: Sequence[str]) -> int:
    """On PostgreSQL the tracker's events are in the same database: erased in the same
    transaction as the history."""
    if db.is_sqlite or not keys:
        return 0
    exists = (await session.execute(text("SELECT to_regclass(:name)"), {"name": TRACKER_TABLE})).scalar()
    if exists is None:
        return 0
    result = await session.execute(text(f"DELETE FROM {TRACKER_TABLE} WHERE sender_id = ANY(:keys)"),
                                   {"keys": list(keys)})
    return result.rowcount


async def erase_tracker_file(tracker: Tracker, keys: Sequence[str], before: datetime | None = None) -> int:
    """The tracker events of these sender ids (only those older than `before`, if given)."""
    if tracker.sqlite_file is None or not keys or not tracker.sqlite_file.exists():
        return 0
    return await asyncio.to_thread(_erase_tracker_file, tracker.sqlite_file, list(keys), before)


def _erase_tracker_file(path: Path, keys: list[str], before: datetime | None) -> int:
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA secure_delete=ON")
        if connection.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                              (TRACKER_TABLE,)).fetchone() is None:
            return 0
        marks = ",".join("?" * len(keys))
        older = "" if before is None else " AND timestamp < ?"
        values = [*keys] if before is None else [*keys, before.timestamp()]
        with connection:
            deleted = connection.execute(f"DELETE FROM {TRACKER_TABLE} WHERE sender_id IN ({marks}){older}",
                                         values).rowcount
        return deleted
    finally:
        connection.close()


async def compact(db: Database, tracker: Tracker) -> None:
    """Make deleted rows unreadable in the files, not only in the tables."""
    if db.is_sqlite:
        files = [Path(make_url(db.url).database or "")]
        if tracker.sqlite_file is not None:
            files.append(tracker.sqlite_file)
        await asyncio.to_thread(_checkpoint, [f for f in files if f.name and f.exists()])
        return
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        # VACUUM runs outside a transaction, one table at a time.
        for table in (*erasure.TABLES, TRACKER_TABLE):
            try:
                await autocommit.execute(text(f"VACUUM {table}"))
            except Exception as error:  # the tracker's table appears with the first message
                logger.warning("could not vacuum %s: %s", table, error)


def _checkpoint(files: list[Path]) -> None:
    # The log's frames still hold the rows as they were before the erasure: copied into the
    # database file (where secure_delete zeroed them) and the log truncated.
    for path in files:
        connection = sqlite3.connect(path, timeout=30)
        try:
            connection.execute("PRAGMA busy_timeout=30000")
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                logger.warning("%s: a reader held the write-ahead log; it is emptied at the next checkpoint", path)
        finally:
            connection.close()


def training_examples(settings: Settings, texts: Sequence[str]) -> tuple[TrainingExample, ...]:
    """The customer's messages that are examples in the training data."""
    from bot.training.nlu import plain_text, read_examples
    from bot.training.review import normalise

    wanted = {normalise(t) for t in texts if t.strip()}
    if not wanted or not settings.data_dir.exists():
        return ()
    return tuple(TrainingExample(e.label, plain_text(e.text)) for e in read_examples(settings.data_dir)
                 if normalise(plain_text(e.text)) in wanted)
