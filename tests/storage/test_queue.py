"""The human queue on both backends: order, and atomic take-next."""

import asyncio
from datetime import timedelta

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
