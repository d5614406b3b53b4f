"""Pooled PostgreSQL connections a cut broke while idle are replaced before use; busy
ones are not pinged at every checkout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.storage import database
from bot.storage.database import Database
from tests.support.services import fresh_postgres_database
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def proxied_postgres():
    with fresh_postgres_database() as url:
        proxy = TcpProxy("127.0.0.1", 5432).start()
        try:
            yield url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"), proxy
        finally:
            proxy.stop()


async def one(db: Database) -> int:
    async with db.session() as session:
        return (await session.execute(text("SELECT 1"))).scalar_one()


async def test_a_connection_broken_while_idle_is_replaced_before_use(proxied_postgres, monkeypatch):
    url, proxy = proxied_postgres
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_SECONDS", 0.2)
    db = Database(url)
    try:
        assert await one(db) == 1
        proxy.cut()  # a server restart while nothing was being asked of it
        proxy.restore()
        await asyncio.sleep(0.3)
        assert await one(db) == 1  # no error reaches the caller
        assert proxy.connections == 2
    finally:
        await db.close()


async def test_connections_in_constant_use_are_not_pinged(proxied_postgres):
    url, _proxy = proxied_postgres
    db = Database(url)
    pings = []
    original = db.engine.sync_engine.dialect.do_ping
    db.engine.sync_engine.dialect.do_ping = lambda connection: pings.append(1) or original(connection)
    try:
        for _ in range(20):
            assert await one(db) == 1
    finally:
        await db.close()
    assert len(pings) == 1  # the new connection's first checkout only


async def test_statements_commit_each_on_its_own_on_postgres():
    """Database.statements(): an insert is visible to others before the block ends (no
    BEGIN/COMMIT round trips around it); the pool's connections go back to transactions."""
    with fresh_postgres_database() as url:
        db, other = Database(url), Database(url)
        try:
            async with db.session() as session:
                await session.execute(text("CREATE TABLE seen (n INTEGER)"))
            async with db.statements() as session:
                await session.execute(text("INSERT INTO seen VALUES (1)"))
                async with other.session() as elsewhere:
                    assert (await elsewhere.execute(text("SELECT count(*) FROM seen"))).scalar_one() == 1
            with pytest.raises(RuntimeError):
                async with db.session() as session:  # a transaction again: rolled back whole
                    await session.execute(text("INSERT INTO seen VALUES (2)"))
                    raise RuntimeError("undone")
            async with other.session() as elsewhere:
                assert (await elsewhere.execute(text("SELECT count(*) FROM seen"))).scalar_one() == 1
        finally:
            await db.close()
            await other.close()
