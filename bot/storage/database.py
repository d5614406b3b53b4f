"""The async engine and sessions; one `Database` is made in the composition root."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import queue as sqla_queue

from bot.storage.sqlite_inline import connect_inline


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            # One writer at a time on SQLite: wait for the lock instead of failing.
            options["connect_args"] = {"timeout": 30}
            if ":memory:" not in url:
                # One connection, kept (SQLAlchemy 1.4 would open one, with the pragmas
                # below, for every transaction). SQLite has one writer at a time anyway;
                # with several connections, a transaction that found the file locked
                # slept in SQLite's busy handler (1, 2, 5 ... 100 ms) while the lock was
                # long free. With one, transactions queue on the pool and the next
                # starts the moment the last ends (docs/performance.md).
                options.update(poolclass=_OneConnectionPool, pool_size=1, max_overflow=0, pool_timeout=30)
        else:
            # When the server is away, fail fast (the webhook answers 503 and the platform
            # retries) instead of holding the request: a connect attempt gives up after
            # 5 s, a request waits at most 10 s for a pooled connection.
            options.update(pool_size=10, max_overflow=20, pool_timeout=10,
                           pool_recycle=1800, connect_args={"timeout": 5})
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
            connect_inline(self.engine)
        else:
            _ping_connections_left_idle(self.engine)
        self._sessions = sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._autocommit_sessions = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                                 class_=AsyncSession, expire_on_commit=False)
        # The task holding the one SQLite connection, to refuse a second session in it
        # (which would wait for itself) at once instead of after pool_timeout.
        self._holder: contextvars.ContextVar[asyncio.Task | None] = contextvars.ContextVar("holder", default=None)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success and rolled back on error."""
        if not self.is_sqlite:
            async with self._sessions() as session:
                async with session.begin():
                    yield session
            return
        task = asyncio.current_task()
        if task is not None and self._holder.get() is task:
            raise RuntimeError("a second database session in a task that holds one: on SQLite "
                               "there is one connection, so it would wait for itself")
        token = self._holder.set(task)
        session = self._sessions()
        try:
            async with session.begin():
                yield session
        finally:
            # Closed here and now, which gives the connection back: SQLAlchemy's own exit
            # closes in a task of its own, turns of the loop later, and on SQLite every
            # other transaction waits for this one connection meanwhile. (That task guards
            # a close a cancellation could interrupt; closing an SQLite session never waits.)
            await session.close()
            self._holder.reset(token)

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncSession]:
        """A session whose statements each commit on their own, for work that is one
        statement (an insert of many rows is one) or only reads.

        On PostgreSQL a transaction is three round trips (BEGIN, the statement, COMMIT),
        each a wait for the server's process to be scheduled, and acknowledging a webhook
        waits for all of them; here it is one. On SQLite, where a statement is a function
        call, it is session()."""
        if self.is_sqlite:
            async with self.session() as session:
                yield session
            return
        async with self._autocommit_sessions() as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


class _OneConnectionPool(AsyncAdaptedQueuePool):
    """Hands out the free connection without a turn of the event loop.

    SQLAlchemy's pool waits for its connection through asyncio.wait_for, a new task that
    runs at the loop's next turn even when the connection is free; under load a turn is
    milliseconds, and every acknowledgement paid it. While others wait, a newcomer
    queues behind them, so nobody is overtaken."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = 0

    def _do_get(self):
        if self._waiting == 0:
            try:
                return self._pool.get(False)
            except sqla_queue.Empty:
                pass
        self._waiting += 1
        try:
            return super()._do_get()
        finally:
            self._waiting -= 1


# A connection unused for this long is checked with a round trip before it is handed out.
IDLE_BEFORE_PING_SECONDS = 5.0


def _ping_connections_left_idle(engine: AsyncEngine) -> None:
    """Find the connections a server restart or network cut broke, and replace them, so
    recovery needs nobody. Only connections left idle are pinged: pinging at every
    checkout (SQLAlchemy's pre_ping) was a round trip and a tenth of a web process's CPU
    per transaction under load, when connections are in constant use. A connection broken
    while in use fails its statement, and SQLAlchemy then replaces the whole pool."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def note_idle(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)  # False: the server hung up
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            # The pool discards this connection and checks out another (a new one).
            raise exc.DisconnectionError("the pooled connection was closed by the server")


def sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (console, REST waiters) run while the worker writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Deleted rows are overwritten with zeros, not left readable in free pages of the file
    # (an erased customer must be gone from the bytes too: bot/privacy/erase.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
