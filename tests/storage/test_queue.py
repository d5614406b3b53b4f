"""The human queue on both backends: order, and atomic take-next."""

import asyncio
from datetime import timedelta

from bot.bus import LocalBus
from bot.messages import utcnow
from bot.storage import history
from bot.storage.queue import claim_next_waiting, hand_to_queue, waiting


async def queued(db, sender: str, priority: int, at) -> int:
    async with db.session() as session:
        customer = await history.customer_for(session, "rest", sender, None, at)
        conversation = await history.open_conversation(session, customer, "rest", at)
        await hand_to_queue(session, conversation, "customer_request", priority, at)
        return conversation.id


async def test_the_queue_is_ordered_by_priority_then_longest_wait(db):
    now = utcnow()
    plain_old = await queued(db, "a", 0, now - timedelta(minutes=10))
    urgent = await queued(db, "b", 130, now)
    plain_new = await queued(db, "c", 0, now - timedelta(minutes=1))
    async with db.session() as session:
        assert [e.conversation_id for e in await waiting(session)] == [urgent, plain_old, plain_new]


async def test_agents_taking_at_once_get_different_conversations(db):
    now = utcnow()
    ids = {await queued(db, f"s{n}", n % 3, now) for n in range(6)}

    async def take(agent: str):
        async with db.session() as session:
            return await claim_next_waiting(session, agent, utcnow())

    taken = await asyncio.gather(*(take(f"agent{n}") for n in range(8)))
    got = [t for t in taken if t is not None]
    assert len(got) == 6 and set(got) == ids


async def test_the_console_gets_a_page_of_the_queue_in_aged_priority_order(db):
    """More waiting than a page: the page is the most urgent by the priority the console
    shows (waiting adds a point a minute, up to 60), and the totals count them all."""
    from bot.console.desk import Desk
    from bot.console.present import entry_json
    from bot.storage.queue import queue_page

    now = utcnow()
    # Priorities and waits that cross: a plain conversation waiting 50 minutes (0 + 50)
    # outranks a fresh mildly negative one (20 + 0), which plain base-priority order would not.
    for n in range(130):
        await queued(db, f"p{n}", (n % 4) * 20, now - timedelta(minutes=(n * 7) % 90, seconds=n))
    async with db.session() as session:
        everything = await waiting(session, ("queued",))
        first = await queue_page(session, "ann", now, 100, 0)
        rest = await queue_page(session, "ann", now, 100, 100)

    def urgency(entry):
        row = entry_json(entry, now)
        return -row["priority"], row["queued_at"], row["id"]

    expected = [e.conversation_id for e in sorted(everything, key=urgency)]
    assert [e.conversation_id for e in first.waiting] == expected[:100]
    assert [e.conversation_id for e in rest.waiting] == expected[100:]
    assert first.waiting_total == rest.waiting_total == 130

    snapshot = await Desk(db, LocalBus(), clock=lambda: now).queue("ann")
    assert len(snapshot["waiting"]) == 100 and snapshot["waiting_total"] == 130 and snapshot["waiting_more"] == 30
    assert [r["id"] for r in snapshot["waiting"]] == expected[:100]
    page = await Desk(db, LocalBus(), clock=lambda: now).queue("ann", limit=50, offset=120)
    assert [r["id"] for r in page["waiting"]] == expected[120:] and page["waiting_more"] == 0
