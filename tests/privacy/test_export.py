"""`python -m bot export` on both backends: one customer, or a date range, as JSON Lines
or CSV, with messages' intent, confidence, sentiment and delivery status, events, notes
and ratings."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from bot.privacy.export import Selection, records
from bot.storage.models import (
    AuditEntry,
    Conversation,
    ConversationEvent,
    Customer,
    Message,
    Note,
    Satisfaction,
)
from sqlalchemy import select
from tests.support.client import cli

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


async def history(db, sender: str, channel: str, at: datetime, text: str) -> int:
    async with db.session() as session:
        customer = Customer(channel=channel, external_id=sender, display_name=sender.title(), created_at=at)
        session.add(customer)
        await session.flush()
        conversation = Conversation(customer_id=customer.id, channel=channel, status="closed", created_at=at,
                                    updated_at=at, last_message_at=at, closed_at=at)
        session.add(conversation)
        await session.flush()
        session.add_all([
            Message(conversation_id=conversation.id, direction="in", author="customer", text=text, data={},
                    intent="order_status", confidence=0.91, sentiment=-0.2, created_at=at),
            Message(conversation_id=conversation.id, direction="out", author="agent", agent_name="ann",
                    text="On its way", data={}, delivery_status="delivered", created_at=at + timedelta(minutes=1)),
            ConversationEvent(conversation_id=conversation.id, kind="handoff", data={"reason": "complaint"},
                              created_at=at),
            Note(conversation_id=conversation.id, author="ann", text=f"note on {sender}", created_at=at),
            Satisfaction(conversation_id=conversation.id, score=4, agent_name="ann", created_at=at),
        ])
        return conversation.id


async def test_one_customer_is_exported_whole_and_nobody_else(db):
    await history(db, "alice", "rest", DAY, "where is my parcel, alice")
    await history(db, "bob", "rest", DAY, "bob here")
    async with db.session() as session:
        found = [r async for r in records(session, Selection(channel="rest", sender="alice"))]
    assert [r["type"] for r in found] == ["conversation", "message", "message", "event", "note", "rating"]
    assert found[0]["customer"] == "alice" and found[0]["customer_name"] == "Alice"
    incoming = found[1]
    assert (incoming["text"], incoming["intent"], incoming["confidence"], incoming["sentiment"]) == \
        ("where is my parcel, alice", "order_status", 0.91, -0.2)
    assert found[2]["delivery_status"] == "delivered" and found[5]["score"] == 4
    assert "bob" not in json.dumps(found)


async def test_a_date_range_in_json_lines_and_csv_from_the_command_line(db, tmp_path):
    await history(db, "early", "rest", DAY - timedelta(days=10), "too early")
    await history(db, "inside", "webchat", DAY, "in the range, with a comma, and \"quotes\"")
    await history(db, "late", "rest", DAY + timedelta(days=10), "too late")
    window = ["--since", "2026-11-01", "--until", "2026-11-05"]
    lines = cli(db.url, "export", *window)
    assert lines.returncode == 0, lines.stderr
    exported = [json.loads(line) for line in lines.stdout.splitlines()]
    assert {r["type"] for r in exported} == {"conversation", "message", "event", "note", "rating"}
    texts = {r.get("text") for r in exported}
    assert "in the range, with a comma, and \"quotes\"" in texts and "too early" not in texts
    assert "too late" not in texts

    out = tmp_path / "export.csv"
    table = cli(db.url, "export", *window, "--format", "csv", "--output", str(out))
    assert table.returncode == 0, table.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == len(exported) == 6
    message = next(r for r in rows if r["type"] == "message" and r["author"] == "customer")
    assert message["text"] == "in the range, with a comma, and \"quotes\"" and message["confidence"] == "0.91"
    async with db.session() as session:
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.action == "export"))).scalars().all()
    assert len(audited) == 2 and audited[0].actor == "cli" and audited[0].details["rows"]["message"] == 2


async def test_export_refuses_without_a_customer_or_a_range(db):
    result = cli(db.url, "export")
    assert result.returncode == 2 and "date range" in result.stderr
