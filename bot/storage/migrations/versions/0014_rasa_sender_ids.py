"""Rasa's tracker ids as under `rasa run`: REST, callback and socket.io senders lose the
channel in front ("rest:alice" becomes "alice"), so trackers, action code and event
consumers see the ids their clients send. The history keeps the channel apart.

Rasa's tracker table (`events`) is in the same database on PostgreSQL, and in a file
beside the history's on SQLite (bot/settings.py `tracker_file`); a tracker not yet made
has nothing to rename.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import op
import sqlalchemy as sa

from bot.settings import tracker_file


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# bot.messages.SENDER_NAMED_CHANNELS as this revision knows it.
CHANNELS = ("rest", "callback", "socketio")


@contextmanager
def _tracker() -> Iterator[Callable[[str, list[dict[str, Any]]], None] | None]:
    """Something that runs one statement (with rows of parameters) on Rasa's tracker
    table, or None when there is none yet."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        if not sa.inspect(bind).has_table("events"):
            yield None
            return
        yield lambda sql, rows: bind.execute(sa.text(sql), rows)
        return
    database = bind.engine.url.database or ""
    path = Path(tracker_file(database)) if database and database != ":memory:" else None
    if path is None or not path.exists():
        yield None
        return
    connection = sqlite3.connect(path, timeout=30)
    try:
        if connection.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='events'").fetchone() is None:
            yield None
            return
        with connection:
            yield lambda sql, rows: connection.executemany(sql, rows)
    finally:
        connection.close()


def upgrade() -> None:
    with _tracker() as run:
        if run is None:
            return
        run("UPDATE events SET sender_id = substr(sender_id, :start) WHERE sender_id LIKE :prefix",
            [{"start": len(channel) + 2, "prefix": f"{channel}:%"} for channel in CHANNELS])


def downgrade() -> None:
    senders = op.get_bind().execute(sa.text(
        "SELECT DISTINCT channel, external_id FROM customers WHERE channel IN ('rest', 'callback', 'socketio')"
    )).all()
    with _tracker() as run:
        if run is None or not senders:
            return
        # A sender id the client used on two of these channels was one tracker: it goes
        # back to the first channel.
        run("UPDATE events SET sender_id = :channel || ':' || sender_id WHERE sender_id = :sender",
            [{"channel": channel, "sender": sender} for channel, sender in senders])
