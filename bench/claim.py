"""Claiming from 10,000 waiting: the next conversation for an agent, the next message for a
dialogue worker; on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import insert, text

from bot.messages import utcnow
from bot.storage.database import Database
from bot.storage.inbox import claim_next as inbox_claim
from bot.storage.models import Conversation, Customer, InboxItem
from bot.storage.queue import claim_next_waiting


async def seed(db: Database, count: int) -> None:
    now = utcnow()
    async with db.session() as session:
        await session.execute(insert(Customer), [
            {"channel": "messenger", "external_id": f"c{n}", "created_at": now} for n in range(count)])
    async with db.session() as session:
        await session.execute(insert(Conversation), [{
            "customer_id": n + 1, "channel": "messenger", "status": "queued", "handoff_reason": "complaint",
            "priority": (n * 37) % 180, "is_public": n % 7 == 0, "created_at": now, "updated_at": now,
            "last_message_at": now, "queued_at": now - timedelta(seconds=n % 3600),
        } for n in range(count)])
    await analyze(db)


async def analyze(db: Database) -> None:
    # A live database has planner statistics; a table filled a moment ago has none yet.
    async with db.session() as session:
        await session.execute(text("ANALYZE"))


async def measure(url: str, waiting: int = 10_000, claims: int = 500, agents: int = 4) -> dict:
    db = Database(url)
    try:
        await seed(db, waiting)
        latencies: list[float] = []

        async def agent(name: str) -> None:
            for _ in range(claims // agents):
                started = time.perf_counter()
                async with db.session() as session:
                    assert await claim_next_waiting(session, name, utcnow()) is not None
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(agent(f"agent-{n}") for n in range(agents)))
    finally:
        await db.close()
    latencies.sort()
    return {"waiting": waiting, "claims": len(latencies), "agents": agents,
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2)}


async def seed_inbox(db: Database, count: int) -> None:
    now = utcnow()
    rows = [{"channel": "messenger", "platform_message_id": f"bench-{n}",
             "conversation_key": f"messenger:c{n % (count // 2)}", "payload": {}, "status": "pending",
             "attempts": 0, "received_at": now} for n in range(count)]
    async with db.session() as session:
        await session.execute(insert(InboxItem), rows)
    await analyze(db)


async def measure_inbox(url: str, waiting: int = 10_000, claims: int = 500, workers: int = 4) -> dict:
    """A dialogue worker's claim (FOR UPDATE SKIP LOCKED + conditional UPDATE) with `waiting`
    messages queued in waiting // 2 conversations (two each: the second must wait its turn)."""
    db = Database(url)
    try:
        await seed_inbox(db, waiting)
        latencies: list[float] = []

        async def worker() -> None:
            for _ in range(claims // workers):
                started = time.perf_counter()
                async with db.statements() as session:  # as the worker claims
                    assert await inbox_claim(session, utcnow(), 60) is not None
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        await db.close()
    latencies.sort()
    return {"waiting": waiting, "claims": len(latencies), "workers": workers,
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2)}
