"""Retention: conversations closed longer ago than `RETENTION_DAYS` are erased, by the
same code as a customer's erasure (bot/storage/erasure.py), in the background.

Small batches (`RETENTION_BATCH` conversations a transaction), with a pause between them,
so webhooks and agents never wait behind a long delete. One process works at a time: on
PostgreSQL each batch takes a transaction-scoped advisory lock and a process that does not
get it leaves the round to the one that did; SQLite has one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text

from bot import audit
from bot.privacy.erase import Tracker, compact, erase_tracker_file
from bot.settings import Settings
from bot.storage import erasure
from bot.storage.database import Database
from bot.storage.models import Conversation

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock's key: "retention" as an integer.
LOCK_KEY = 0x7265_7465_6E74
PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class Pass:
    conversations: int
    batches: int


async def erase_expired(db: Database, settings: Settings, now: datetime) -> Pass:
    """One pass: every conversation closed before the cut-off, batch by batch."""
    if settings.retention_days <= 0:
        return Pass(0, 0)
    cutoff = now - timedelta(days=settings.retention_days)
    total = batches = 0
    while True:
        erased = await _batch(db, settings, cutoff, now)
        if erased is None or erased == 0:
            break
        total, batches = total + erased, batches + 1
        await asyncio.sleep(PAUSE_SECONDS)
    if total:
        await compact(db, Tracker.of(settings))
        logger.info("retention: erased %d conversation(s) closed before %s", total, cutoff.date())
    return Pass(total, batches)


async def _batch(db: Database, settings: Settings, cutoff: datetime, now: datetime) -> int | None:
    """Erase up to RETENTION_BATCH conversations; None when another process is at it."""
    keys: list[str] = []
    async with db.session() as session:
        if not db.is_sqlite and not (await session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY})).scalar():
            return None
        ids = list((await session.execute(
            select(Conversation.id).where(Conversation.status == "closed", Conversation.closed_at < cutoff)
            .order_by(Conversation.id).limit(settings.retention_batch))).scalars())
        if not ids:
            return 0
        rows: dict[str, int] = {}
        for found in await erasure.find_by_conversations(session, ids):
            for table, count in (await erasure.erase(session, found, whole_customer=False)).items():
                rows[table] = rows.get(table, 0) + count
            keys += found.tracker_ids
        tracker_events = 0
        if not db.is_sqlite and keys:
            tracker_events = await _old_tracker_events_in(session, keys, cutoff)
        await audit.record(session, audit.RETENTION, "erase", None, now, conversations=len(ids),
                           rows={k: v for k, v in rows.items() if v}, tracker_events=tracker_events)
    if db.is_sqlite:
        await erase_tracker_file(Tracker.of(settings), keys, before=cutoff)
    return len(ids)


async def _old_tracker_events_in(session, keys: list[str], cutoff: datetime) -> int:
    exists = (await session.execute(text("SELECT to_regclass('events')"))).scalar()
    if exists is None:
        return 0
    result = await session.execute(text("DELETE FROM events WHERE sender_id = ANY(:keys) AND timestamp < :before"),
                                   {"keys": keys, "before": cutoff.timestamp()})
    return result.rowcount


async def run_retention(db: Database, settings: Settings, clock: Callable[[], datetime],
                        interval: float) -> None:
    """The background task: a pass now and then every `interval` seconds."""
    while True:
        try:
            await erase_expired(db, settings, clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("retention pass failed; trying again at the next one")
        await asyncio.sleep(interval)
