"""The embedded service's one SQLite connection: statements on the event loop's thread,
concurrent transactions queued (never 'database is locked', no update lost), a second
session in the same task refused at once, another process's write lock waited for."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from bot.storage.database import Database


@pytest.fixture
async def db(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await session.execute(text("INSERT INTO counter VALUES (0)"))
    yield db
    await db.close()


async def test_statements_run_on_the_event_loops_thread(db):
    seen = []
    async with db.session() as session:
        raw = await (await session.connection()).get_raw_connection()
        raw.driver_connection._conn.create_function("thread_id", 0, threading.get_ident)
        seen.append((await session.execute(text("SELECT thread_id()"))).scalar_one())
    assert seen == [threading.get_ident()]
    assert not [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


async def test_concurrent_transactions_queue_and_lose_no_update(db):
    async def increment() -> None:
        async with db.session() as session:
            n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0)  # another task runs here, and must wait for this one
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(50)))
    async with db.session() as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 50


async def test_a_second_session_in_the_same_task_is_refused_at_once(db):
    started = time.monotonic()
    async with db.session():
        with pytest.raises(RuntimeError, match="would wait for itself"):
            async with db.session():
                pass
    assert time.monotonic() - started < 5  # not the pool's 30 s timeout
    async with db.session() as session:  # and the connection is free again afterwards
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 0


async def test_another_process_write_lock_is_waited_for(db, tmp_path):
    other = sqlite3.connect(tmp_path / "one.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # a CLI command writing the same file
    other.execute("UPDATE counter SET n = 100")
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    started = time.monotonic()
    async with db.session() as session:
        await session.execute(text("UPDATE counter SET n = n + 1"))
    assert time.monotonic() - started >= 0.25
    async with db.session() as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 101
    other.close()


async def test_a_free_connection_is_had_without_a_turn_of_the_event_loop(db):
    """Nothing else runs between asking for the free connection and having it (SQLAlchemy's
    pool waited for a loop turn, milliseconds under load); a queue is still served in order."""
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    try:
        before = turns
        async with db.session() as session:
            await session.execute(text("SELECT n FROM counter"))
        assert turns == before
    finally:
        counter.cancel()

    order: list[int] = []

    async def take(n: int) -> None:
        async with db.session() as session:
            await session.execute(text("SELECT n FROM counter"))
            order.append(n)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(take(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]
