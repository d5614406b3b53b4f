"""SQLite statements run on the event loop's thread, not on a thread of aiosqlite's.

aiosqlite hands every call (execute, fetch, commit) to a thread of its own and wakes the
event loop with the result: two thread switches and a loop turn per call, for statements
that take microseconds. Under load that was a third of the embedded service's CPU, and
every acknowledgement waited for several busy loop turns. The service keeps one SQLite
connection (bot/storage/database.py), so no call here ever waits for a lock held in this
process; another process writing the same file (a CLI command) holds the loop for as long
as its write transaction lasts, which is milliseconds.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection with each call made at once, on the calling thread."""

    async def _execute(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - aiosqlite's signature
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):  # noqa: ANN204 - no thread to start, unlike aiosqlite's
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


class _InlineAiosqlite:
    """What SQLAlchemy's aiosqlite dialect uses of the aiosqlite module."""

    def __init__(self) -> None:
        for name in ("DatabaseError", "Error", "IntegrityError", "NotSupportedError", "OperationalError",
                     "ProgrammingError", "sqlite_version", "sqlite_version_info"):
            setattr(self, name, getattr(aiosqlite, name))

    @staticmethod
    def connect(database: Any, *, iter_chunk_size: int = 64, **kwargs: Any) -> InlineConnection:
        return InlineConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size)


def connect_inline(engine: AsyncEngine) -> None:
    """Make `engine` (sqlite+aiosqlite) open InlineConnections. Its dialect holds the module
    it connects with; each engine has a dialect of its own, so no other engine changes."""
    engine.sync_engine.dialect.dbapi.aiosqlite = _InlineAiosqlite()
