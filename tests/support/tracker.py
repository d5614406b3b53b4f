"""Rasa's tracker table, read and written directly by tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.settings import tracker_file


class Tracker:
    """Rasa's tracker table where the service puts it: the same PostgreSQL database, or
    SQLite's file beside the history's."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.file = None if not url.startswith("sqlite") else Path(tracker_file(make_url(url).database))

    def run(self, sql: str) -> list[tuple]:
        if self.file is not None:
            with sqlite3.connect(self.file) as connection:
                return connection.execute(sql).fetchall()
        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(sql))
                return result.all() if result.returns_rows else []
        finally:
            engine.dispose()
