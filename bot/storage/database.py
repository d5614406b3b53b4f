"""The async engine and sessions; one `Database` is made in the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            # One writer at a time on SQLite: wait for the lock instead of failing.
            options["connect_args"] = {"timeout": 30}
            if ":memory:" not in url:
                # SQLAlchemy 1.4 opens a new SQLite connection (a thread and the pragmas
                # below) for every transaction unless told to keep a pool of them.
                options.update(poolclass=AsyncAdaptedQueuePool, pool_size=8, max_overflow=8, pool_timeout=30)
        else:
            # When the server is away, fail fast (the webhook answers 503 and the platform
            # retries) instead of holding the request: a connect attempt gives up after
            # 5 s, a request waits at most 10 s for a pooled connection. pre_ping finds
            # the connections the outage broke and replaces them, so recovery needs nobody.
            options.update(pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=10,
                           pool_recycle=1800, connect_args={"timeout": 5})
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success and rolled back on error."""
        async with self._sessions() as session:
            async with session.begin():
                yield session

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (console, REST waiters) run while the worker writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
