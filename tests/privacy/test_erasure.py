"""Erasure at the storage level on both backends: every table, the inbox reduced to a
hash, training runs redacted, the training data only listed, an audit entry of counts."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.messages import utcnow
from bot.privacy.erase import erase_customer
from bot.settings import Settings
from bot.storage import erasure
from bot.storage.models import (
    Alert,
    AuditEntry,
    ConversationEvent,
    Customer,
    InboxItem,
    Message,
    ReportHandover,
    TrainingRun,
)
from tests.privacy.test_export import DAY, history

WORDS = "my parcel to 12 Elm Street never came"


async def test_a_customer_is_erased_and_only_counts_remain(db, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "nlu.yml").write_text('version: "3.1"\nnlu:\n- intent: complaint\n  examples: |\n'
                                  f"    - {WORDS}\n    - something else entirely\n")
    settings = Settings.from_mapping({"DATABASE_URL": db.url, "DATA_DIR": str(data)})
    alice = await history(db, "alice", "rest", DAY, WORDS)
    await history(db, "bob", "rest", DAY, "bob's own words")
    async with db.session() as session:
        item = InboxItem(channel="rest", platform_message_id="alice:m1", conversation_key="rest:alice",
                         payload={"text": WORDS, "sender_id": "alice"}, status="done", received_at=DAY)
        session.add(item)
        await session.flush()
        message = (await session.execute(select(Message).where(Message.conversation_id == alice,
                                                               Message.author == "customer"))).scalar_one()
        message.inbox_id = item.id
        # A message accepted but not yet processed has no conversation yet.
        session.add(InboxItem(channel="rest", platform_message_id="alice:m2", conversation_key="rest:alice",
                              payload={"text": "still waiting"}, status="pending", received_at=DAY))
        session.add(TrainingRun(started_by="tina", status="passed", steps=[], started_at=DAY, heartbeat_at=DAY,
                                output=f"misclassified: '{WORDS}' as out_of_scope"))

    report = await erase_customer(db, settings, "rest", "alice", actor="cli", now=utcnow())
    assert report.rows["customers"] == 1 and report.rows["messages"] == 2 and report.rows["inbox"] == 2
    assert report.rows["notes"] == 1 and report.rows["satisfaction"] == 1 and report.rows["training_runs"] == 1
    assert [(e.intent, e.text) for e in report.training_examples] == [("complaint", WORDS)]

    async with db.session() as session:
        customers = list((await session.execute(select(Customer.external_id))).scalars())
        inbox = (await session.execute(select(InboxItem))).scalars().all()
        run = (await session.execute(select(TrainingRun))).scalar_one()
        entry = (await session.execute(select(AuditEntry))).scalar_one()
        assert await erasure.is_erased_delivery(session, "rest", "alice:m1")
        assert not await erasure.is_erased_delivery(session, "rest", "bob:m1")
    assert customers == ["bob"]
    assert {i.platform_message_id for i in inbox} == {erasure.erased_message_id("alice:m1"),
                                                      erasure.erased_message_id("alice:m2")}
    assert all(i.payload == {} and i.conversation_key == erasure.ERASED_KEY and i.status == "done" for i in inbox)
    assert WORDS not in run.output and "[erased]" in run.output
    assert (entry.actor, entry.action, entry.target) == ("cli", "erase", "channel:rest")
    assert "alice" not in json.dumps(entry.details) and entry.details["rows"]["customers"] == 1
    # The training data is the trainer's to change.
    assert WORDS in (data / "nlu.yml").read_text()


async def test_erasing_someone_unknown_erases_nothing(db):
    settings = Settings.from_mapping({"DATABASE_URL": db.url})
    await history(db, "bob", "rest", DAY, "bob's own words")
    report = await erase_customer(db, settings, "rest", "nobody", actor="cli", now=utcnow())
    assert not report.found
    async with db.session() as session:
        assert list((await session.execute(select(Customer.external_id))).scalars()) == ["bob"]


async def test_on_sqlite_the_erased_rows_are_gone_from_the_files_too(tmp_path):
    from pathlib import Path

    from bot.storage.database import Database
    from bot.storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    settings = Settings.from_mapping({"DATABASE_URL": url, "DATA_DIR": str(tmp_path)})
    upgrade(settings.sync_database_url)
    db = Database(url)
    try:
        marker = "zq-unmistakable-words-" * 20
        for n in range(30):  # enough rows to fill pages that a deletion frees whole
            await history(db, f"erin-{n}" if n else "erin", "rest", DAY, f"{marker} {n}")
        await history(db, "kim", "rest", DAY, "kim's words stay")
        for n in range(30):
            await erase_customer(db, settings, "rest", f"erin-{n}" if n else "erin", actor="cli", now=utcnow())
        # The service's own connection stays open, as it would.
        files = [Path(tmp_path / name) for name in ("assistant.db", "assistant.db-wal")]
        content = b"".join(f.read_bytes() for f in files if f.exists())
        assert b"zq-unmistakable-words" not in content
        assert b"kim's words stay" in content
        # Whatever SQLite's build default (Debian's is on), the service's connection zeroes.
        from sqlalchemy import text

        async with db.session() as session:
            assert (await session.execute(text("PRAGMA secure_delete"))).scalar() == 1
    finally:
        await db.close()


async def test_copies_of_the_customer_kept_for_reports_and_alerts_go_too(db):
    """The reports' hand-over facts and the posts an alert keeps point at the customer's
    conversation (on PostgreSQL by foreign key): erased with it, others' kept."""
    settings = Settings.from_mapping({"DATABASE_URL": db.url})
    alice = await history(db, "alice", "facebook", DAY, WORDS)
    bob = await history(db, "bob", "facebook", DAY, "bob's own words")
    async with db.session() as session:
        for conversation in (alice, bob):
            handoff = (await session.execute(select(ConversationEvent.id).where(
                ConversationEvent.conversation_id == conversation, ConversationEvent.kind == "handoff"))).scalar_one()
            session.add(ReportHandover(handoff_id=handoff, conversation_id=conversation, channel="facebook",
                                       conversation_started=DAY, handed_over_at=DAY, reason="complaint"))
        session.add(Alert(kind="negative_spike", active_slot=None, raised_at=DAY, window_start=DAY, window_end=DAY,
                          figures={"authors": 2}, summary="2 angry authors", webhook_status="sent",
                          posts=[{"conversation_id": alice, "author": "Alice", "text": WORDS},
                                 {"conversation_id": bob, "author": "Bob", "text": "bob's own words"}]))

    report = await erase_customer(db, settings, "facebook", "alice", actor="cli", now=utcnow())
    assert report.rows["report_handovers"] == 1 and report.rows["alerts"] == 1

    async with db.session() as session:
        facts = list((await session.execute(select(ReportHandover.conversation_id))).scalars())
        alert = (await session.execute(select(Alert))).scalar_one()
    assert facts == [bob]
    assert [post["conversation_id"] for post in alert.posts] == [bob]
    assert WORDS not in json.dumps(alert.posts) and alert.figures == {"authors": 2}
