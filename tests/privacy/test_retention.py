"""Retention on both backends, with the clock moved forward: conversations closed longer
ago than RETENTION_DAYS are erased in small batches, with their tracker events; open and
recent ones, and customers who still have them, stay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from bot.messages import rasa_sender_id
from bot.privacy.retention import erase_expired
from bot.settings import Settings, endpoint_variables
from bot.storage.models import AuditEntry, Conversation, Customer, Message
from tests.privacy.test_export import history

START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def tracker(settings: Settings) -> sa.engine.Engine:
    """Rasa's events table where the service keeps it, with its columns that matter here."""
    if settings.is_sqlite:
        engine = sa.create_engine(f"sqlite:///{Path(endpoint_variables(settings)['TRACKER_DB'])}")
    else:
        engine = sa.create_engine(settings.sync_database_url)
    with engine.begin() as connection:
        key = "INTEGER PRIMARY KEY" if settings.is_sqlite else "SERIAL PRIMARY KEY"
        connection.execute(sa.text(f"CREATE TABLE IF NOT EXISTS events (id {key}, "
                                   "sender_id VARCHAR(255), timestamp FLOAT, data TEXT)"))
    return engine


async def test_closed_conversations_past_retention_are_erased_in_batches(db):
    settings = Settings.from_mapping({"DATABASE_URL": db.url, "RETENTION_DAYS": "30", "RETENTION_BATCH": "2"})
    old = [await history(db, f"old-{n}", "rest", START, f"old words {n}") for n in range(5)]
    # A returning customer: an old conversation goes, their recent one stays.
    await history(db, "back", "rest", START, "back then")
    recent = await history(db, "back-later", "rest", START + timedelta(days=40), "recently")
    async with db.session() as session:
        later = (await session.execute(select(Customer).where(Customer.external_id == "back-later"))).scalar_one()
        back = (await session.execute(select(Customer).where(Customer.external_id == "back"))).scalar_one()
        (await session.get(Conversation, recent)).customer_id = back.id
        await session.delete(later)
    open_id = await history(db, "still-open", "rest", START, "still waiting")
    async with db.session() as session:
        (await session.get(Conversation, open_id)).status = "assigned"
    events = tracker(settings)
    with events.begin() as connection:
        connection.execute(sa.text("INSERT INTO events (sender_id, timestamp, data) VALUES (:s, :t, :d)"), [
            {"s": rasa_sender_id("rest", "old-0"), "t": START.timestamp(), "d": "old words 0"},
            {"s": rasa_sender_id("rest", "back"), "t": START.timestamp(), "d": "back then"},
            {"s": rasa_sender_id("rest", "back"), "t": (START + timedelta(days=40)).timestamp(), "d": "recently"},
        ])

    # Nothing is old enough yet.
    assert (await erase_expired(db, settings, START + timedelta(days=29))).conversations == 0
    done = await erase_expired(db, settings, START + timedelta(days=45))
    assert done.conversations == 6 and done.batches == 3

    async with db.session() as session:
        left = set((await session.execute(select(Conversation.id))).scalars())
        texts = set((await session.execute(select(Message.text))).scalars())
        customers = set((await session.execute(select(Customer.external_id))).scalars())
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.actor == "retention"))).scalars().all()
    assert left == {recent, open_id} and not set(old) & left
    assert "recently" in texts and "still waiting" in texts and not any(t.startswith("old words") for t in texts)
    assert customers == {"back", "still-open"}
    assert [a.details["conversations"] for a in audited] == [2, 2, 2]
    assert sum(a.details["rows"].get("notes", 0) for a in audited) == 6
    with events.connect() as connection:
        kept = list(connection.execute(sa.text("SELECT data FROM events ORDER BY id")).scalars())
    assert kept == ["recently"]
    events.dispose()

    # The next pass finds nothing more to do.
    again = await erase_expired(db, settings, START + timedelta(days=45))
    assert again.conversations == 0
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Conversation))).scalar_one() == 2


async def test_retention_is_off_by_default(db):
    await history(db, "ancient", "rest", START - timedelta(days=3000), "long ago")
    settings = Settings.from_mapping({"DATABASE_URL": db.url})
    assert settings.retention_days == 0
    assert (await erase_expired(db, settings, START)).conversations == 0
