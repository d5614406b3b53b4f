"""The outbox on both backends: per-conversation order, retries, give-up."""

from datetime import timedelta

from bot.messages import IncomingMessage, OutgoingMessage, utcnow
from bot.storage import history, outbox
from bot.storage.models import Message


async def conversation(session, sender: str):
    now = utcnow()
    customer = await history.customer_for(session, "rest", sender, None, now)
    return await history.open_conversation(session, customer, "rest", now)


async def enqueue(db, sender: str, texts: list[str]) -> list[int]:
    now = utcnow()
    ids = []
    async with db.session() as session:
        conv = await conversation(session, sender)
        for text in texts:
            reply = OutgoingMessage(channel="rest", recipient_id=sender, text=text)
            record = await history.record_outgoing(session, conv, None, reply, now)
            ids.append((await outbox.enqueue(session, record, reply, now)).id)
    return ids


async def test_replies_of_one_conversation_leave_in_order(db):
    a1, a2 = await enqueue(db, "a", ["first", "second"])
    (b1,) = await enqueue(db, "b", ["other"])
    now = utcnow()
    async with db.session() as session:
        claimed = await outbox.claim_due(session, now, 30, limit=10)
    assert [i.id for i in claimed] == [a1, b1]
    async with db.session() as session:
        await outbox.mark_sent(session, claimed[0], "p-1", now)
    async with db.session() as session:
        assert [i.id for i in await outbox.claim_due(session, now, 30, limit=10)] == [a2]


async def test_a_retry_waits_its_turn_and_blocks_later_replies(db):
    first, second = await enqueue(db, "a", ["first", "second"])
    now = utcnow()
    async with db.session() as session:
        (item,) = await outbox.claim_due(session, now, 30, limit=10)
        await outbox.schedule_retry(session, item, "HTTP 500", now + timedelta(seconds=10))
    async with db.session() as session:
        assert await outbox.claim_due(session, now + timedelta(seconds=5), 30, limit=10) == []
    async with db.session() as session:
        (again,) = await outbox.claim_due(session, now + timedelta(seconds=11), 30, limit=10)
    assert again.id == first and again.attempts == 2


async def test_a_failed_send_is_recorded_on_the_message(db):
    (item_id,) = await enqueue(db, "a", ["hello"])
    async with db.session() as session:
        (item,) = await outbox.claim_due(session, utcnow(), 30, limit=10)
        await outbox.mark_failed(session, item, "user blocked the page")
    async with db.session() as session:
        message = await session.get(Message, item.message_id)
    assert message.delivery_status == "failed" and message.error == "user blocked the page"


async def test_the_incoming_record_is_made_once_per_inbox_item(db):
    from bot.storage import inbox

    now = utcnow()
    incoming = IncomingMessage(channel="rest", sender_id="a", text="hi", message_id="x")
    async with db.session() as session:
        (accepted,) = await inbox.accept(session, [incoming], now)
        conv = await conversation(session, "a")
        first = await history.record_incoming(session, conv, accepted.inbox_id, incoming, 0.1, now)
        second = await history.record_incoming(session, conv, accepted.inbox_id, incoming, 0.1, now)
    assert first.id == second.id
