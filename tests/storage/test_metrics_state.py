"""The service's state read for a metrics scrape, on both backends: what each figure counts,
and that a scrape stays cheap when the history is large."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import insert, text

from bot.messages import IncomingMessage, utcnow
from bot.storage import history
from bot.storage import inbox as inbox_store
from bot.storage.metrics import read_state
from bot.storage.models import (Agent, ConsoleSession, Conversation, Customer, InboxItem, Message, OutboxItem,
                               TrainingRun)
from bot.storage.queue import hand_to_queue


def incoming(n: int) -> IncomingMessage:
    return IncomingMessage(channel="rest", sender_id=f"s{n}", text="hello", message_id=f"m{n}")


async def queued(db, sender: str, priority: int, at) -> int:
    async with db.session() as session:
        customer = await history.customer_for(session, "rest", sender, None, at)
        conversation = await history.open_conversation(session, customer, "rest", at)
        await hand_to_queue(session, conversation, "customer_request", priority, at)
        return conversation.id


async def test_each_figure_counts_what_it_says(db):
    now = utcnow()
    async with db.session() as session:
        # The backlog: three accepted, the oldest of them being answered; one done, not counted.
        await inbox_store.accept(session, [incoming(0)], now - timedelta(seconds=300))
        await inbox_store.accept(session, [incoming(1)], now - timedelta(seconds=90))
        await inbox_store.accept(session, [incoming(2), incoming(3)], now - timedelta(seconds=5))
        claimed = await inbox_store.claim(session, now, 60, 1)
        await inbox_store.finish(session, claimed[0], now)
        await inbox_store.claim(session, now, 60, 1)
    for sender, priority in (("p", 130), ("h", 60), ("r", 25), ("n1", 0), ("n2", 5)):
        await queued(db, sender, priority, now - timedelta(minutes=2 if sender == "n1" else 1))
    assigned = await queued(db, "a", 0, now - timedelta(hours=1))
    async with db.session() as session:
        conversation = await session.get(Conversation, assigned)
        conversation.status, conversation.assigned_agent = "assigned", "ann"
        message = Message(conversation_id=assigned, direction="out", author="bot", text="hi", data={},
                          created_at=now)
        session.add(message)
        await session.flush()
        for status, attempts in (("pending", 0), ("pending", 2), ("sending", 1), ("failed", 8), ("sent", 1),
                                 ("sent", 3)):
            session.add(OutboxItem(message_id=message.id, conversation_id=assigned, channel="rest", payload={},
                                   status=status, attempts=attempts, next_attempt_at=now, idempotency_key="k",
                                   created_at=now))
        for name, role, active in (("ann", "agent", True), ("bob", "agent", True), ("sue", "supervisor", True),
                                   ("old", "agent", False), ("tim", "trainer", True)):
            session.add(Agent(name=name, role=role, password_hash="x", active=active, created_at=now))
        live, gone = now + timedelta(hours=1), now - timedelta(minutes=1)
        # ann in two browsers counts once; tim's session ran out; a disabled account is not online.
        for key, agent, expires in (("1", "ann", live), ("2", "ann", live), ("3", "bob", live),
                                    ("4", "sue", live), ("5", "old", live), ("6", "tim", gone), ("7", None, live)):
            session.add(ConsoleSession(key_hash=key, data={}, agent_name=agent, expires_at=expires))
        for status in ("passed", "passed", "refused", "failed", "lost"):
            session.add(TrainingRun(started_by="tim", status=status, steps=[], output="", started_at=now,
                                    heartbeat_at=now))

    async with db.statements() as session:
        state = await read_state(session, now)

    assert state.inbox_backlog == {"pending": 2, "processing": 1}
    assert 89 <= state.inbox_oldest_age <= 91
    assert state.outbox == {"pending": 2, "sending": 1, "failed": 1}
    assert state.outbox_retrying == 1
    assert state.queue_waiting == {"public": 1, "high": 1, "raised": 1, "normal": 2}
    assert 119 <= state.queue_oldest_wait <= 121
    assert state.agents_online == {"agent": 2, "supervisor": 1}
    assert state.training_runs == {"running": 0, "passed": 2, "refused": 1, "failed": 1, "lost": 1}


async def test_an_idle_service_reads_as_zeros(db):
    async with db.statements() as session:
        state = await read_state(session, utcnow())
    assert sum(state.inbox_backlog.values()) == 0 and state.inbox_oldest_age == 0
    assert sum(state.outbox.values()) == 0 and state.queue_oldest_wait == 0
    assert sum(state.queue_waiting.values()) == 0 and state.agents_online == {}


async def test_a_scrape_reads_only_the_work_in_play_however_long_the_history(db, capsys):
    """A year of history and a busy moment: the scrape's time is printed (docs/deployment.md
    states it); the bound is only there to catch a query that reads the whole history."""
    now = utcnow()
    history_rows, backlog_rows = 100_000, 2_000
    async with db.session() as session:
        await session.execute(insert(Customer), [{"channel": "rest", "external_id": "c", "created_at": now}])
        customer_id = (await session.execute(Customer.__table__.select())).first().id
        conversations = [{"customer_id": customer_id, "channel": "rest", "status": "closed" if n % 50 else "queued",
                          "priority": n % 140, "is_public": False, "created_at": now, "updated_at": now,
                          "last_message_at": now, "queued_at": now} for n in range(history_rows // 5)]
        await session.execute(insert(Conversation), conversations)
        conversation_id = (await session.execute(Conversation.__table__.select().limit(1))).first().id
        for start in range(0, history_rows, 10_000):
            await session.execute(insert(InboxItem), [{
                "channel": "rest", "platform_message_id": f"m{n}", "conversation_key": f"rest:{n % 997}",
                "payload": {}, "status": "done" if n < history_rows - backlog_rows else "pending", "attempts": 1,
                "received_at": now - timedelta(seconds=history_rows - n)} for n in range(start, start + 10_000)])
        await session.execute(insert(Message), [{"conversation_id": conversation_id, "direction": "out",
                                                 "author": "bot", "text": "", "data": {}, "created_at": now}])
        message_id = (await session.execute(Message.__table__.select().limit(1))).first().id
        for start in range(0, history_rows, 10_000):
            await session.execute(insert(OutboxItem), [{
                "message_id": message_id, "conversation_id": conversation_id, "channel": "rest", "payload": {},
                "status": "sent" if n % 100 else "pending", "attempts": 1, "next_attempt_at": now,
                "idempotency_key": "k", "created_at": now} for n in range(start, start + 10_000)])
    if not db.is_sqlite:
        async with db.statements() as session:
            await session.execute(text("ANALYZE"))

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        async with db.statements() as session:
            state = await read_state(session, now)
        timings.append(time.perf_counter() - started)
    assert state.inbox_backlog["pending"] == backlog_rows
    assert 1_999 <= state.inbox_oldest_age <= 2_001
    assert state.outbox["pending"] == history_rows // 100
    assert sum(state.queue_waiting.values()) == history_rows // 5 // 50
    with capsys.disabled():
        print(f"\nscrape state read ({'sqlite' if db.is_sqlite else 'postgres'}, {history_rows} inbox and "
              f"outbox rows): best {min(timings) * 1000:.1f} ms, worst {max(timings) * 1000:.1f} ms")
    assert min(timings) < 1.0
