"""Taking the next conversation from a queue of 10,000 waiting ones, on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import insert

from bot.messages import utcnow
from bot.storage.database import Database
from bot.storage.models import Conversation, Customer
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
