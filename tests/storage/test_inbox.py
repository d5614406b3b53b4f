"""The inbox on both backends: stored once, claimed in order per conversation, leases expire."""

import asyncio
from datetime import timedelta

import pytest

from bot.messages import IncomingMessage, utcnow
from bot.storage import inbox


def msg(sender: str, message_id: str, text: str = "hi") -> IncomingMessage:
    return IncomingMessage(channel="rest", sender_id=sender, text=text, message_id=message_id)


async def test_a_redelivered_message_is_stored_once(db):
    async with db.session() as session:
        (first,) = await inbox.accept(session, [msg("a", "m1")], utcnow())
    async with db.session() as session:
        (again,) = await inbox.accept(session, [msg("a", "m1", "different text")], utcnow())
        assert await inbox.count_unfinished(session) == 1
    assert not first.duplicate and again.duplicate and again.inbox_id == first.inbox_id


async def test_each_accepted_message_comes_back_with_its_own_rows_id(db):
    from sqlalchemy import select

    from bot.storage.models import InboxItem

    ids = {}
    for n in range(5):
        async with db.statements() as session:
            if n == 2:  # a redelivery between two new messages
                (again,) = await inbox.accept(session, [msg("a", "m0")], utcnow())
                assert again.duplicate
            (accepted,) = await inbox.accept(session, [msg("a", f"m{n}")], utcnow())
            ids[f"m{n}"] = accepted.inbox_id
    async with db.session() as session:
        stored = dict((await session.execute(select(InboxItem.platform_message_id, InboxItem.id))).all())
    assert stored == ids


async def test_a_batch_with_a_known_message_stores_only_the_new_ones(db):
    async with db.session() as session:
        await inbox.accept(session, [msg("a", "m1")], utcnow())
    async with db.session() as session:
        accepted = await inbox.accept(session, [msg("a", "m1"), msg("b", "m2")], utcnow())
    assert [a.duplicate for a in accepted] == [True, False]


async def test_one_conversation_is_claimed_in_order_and_others_in_parallel(db):
    now = utcnow()
    async with db.session() as session:
        await inbox.accept(session, [msg("a", "1"), msg("a", "2"), msg("b", "3")], now)
    async with db.session() as session:
        first = await inbox.claim_next(session, now, 30)
    async with db.session() as session:
        second = await inbox.claim_next(session, now, 30)
    async with db.session() as session:
        # a's second message waits for its first; nothing else is claimable.
        assert await inbox.claim_next(session, now, 30) is None
    assert (first.platform_message_id, second.platform_message_id) == ("1", "3")
    async with db.session() as session:
        await inbox.finish(session, first, now)
    async with db.session() as session:
        third = await inbox.claim_next(session, now, 30)
    assert third.platform_message_id == "2"


async def test_a_batch_claim_takes_the_first_of_each_conversation_once_across_concurrent_claimers(db):
    now = utcnow()
    async with db.session() as session:
        await inbox.accept(session, [msg(sender, f"{sender}-{n}") for n in range(3) for sender in "abcdef"], now)

    async def claimer(limit: int) -> list:
        async with db.session() as session:
            return await inbox.claim(session, now, 30, limit)

    batches = await asyncio.gather(*(claimer(4) for _ in range(4)))
    assert any(batches)
    # A claimer that lost the race for some candidates gets fewer; the next claim gets the rest.
    while batch := await claimer(4):
        batches.append(batch)
    claimed = [item.platform_message_id for batch in batches for item in batch]
    # Six conversations, so six claimable messages: each claimed once, each its sender's first.
    assert sorted(claimed) == [f"{sender}-0" for sender in "abcdef"]
    assert all(item.status == "processing" and item.attempts == 1 for batch in batches for item in batch)
    assert all([i.id for i in batch] == sorted(i.id for i in batch) for batch in batches)


async def test_the_claim_of_a_dead_worker_expires(db):
    now = utcnow()
    async with db.session() as session:
        await inbox.accept(session, [msg("a", "1")], now)
    async with db.session() as session:
        claimed = await inbox.claim_next(session, now, 5)
    async with db.session() as session:
        assert await inbox.claim_next(session, now + timedelta(seconds=4), 5) is None
    async with db.session() as session:
        again = await inbox.claim_next(session, now + timedelta(seconds=6), 5)
    assert again.id == claimed.id and again.attempts == 2


async def test_reset_claims_returns_them_at_start_up(db):
    now = utcnow()
    async with db.session() as session:
        await inbox.accept(session, [msg("a", "1")], now)
    async with db.session() as session:
        await inbox.claim_next(session, now, 600)
    async with db.session() as session:
        assert await inbox.reset_claims(session) == 1
    async with db.session() as session:
        assert (await inbox.claim_next(session, now, 600)) is not None


async def test_a_worker_taken_over_cannot_finish_and_its_replies_roll_back(db):
    """The lease ran out under a slow worker: only the new claim's answer may count."""
    now = utcnow()
    async with db.session() as session:
        await inbox.accept(session, [msg("a", "1")], now)
    async with db.session() as session:
        slow = await inbox.claim_next(session, now, 5)
    async with db.session() as session:
        taker = await inbox.claim_next(session, now + timedelta(seconds=6), 5)
    assert taker.id == slow.id
    async with db.session() as session:
        assert not await inbox.extend_lease(session, slow, now + timedelta(seconds=60))
    with pytest.raises(inbox.ClaimLost):
        async with db.session() as session:
            await inbox.finish(session, slow, now)
    async with db.session() as session:
        await inbox.finish(session, taker, now)
        assert await inbox.status_of(session, taker.id) == "done"


async def test_a_message_over_its_senders_rate_waits_for_its_slot(db):
    now = utcnow()
    later = now + timedelta(seconds=10)
    async with db.session() as session:
        await inbox.accept(session, [msg("a", "1"), msg("b", "2")], now, not_before=[later, None])
    async with db.session() as session:
        first = await inbox.claim_next(session, now, 30)
        assert await inbox.claim_next(session, now, 30) is None
    async with db.session() as session:
        deferred = await inbox.claim_next(session, later, 30)
    assert (first.platform_message_id, deferred.platform_message_id) == ("2", "1")


async def test_a_receipt_that_beats_the_record_of_its_send_is_applied_a_moment_later(db, monkeypatch):
    import asyncio

    from bot import inbox as inbox_module
    from bot.bus import LocalBus
    from bot.messages import StatusUpdate
    from bot.storage.models import Message

    monkeypatch.setattr(inbox_module, "LATE_RECEIPT_SECONDS", 0.3)
    receiver = inbox_module.Inbox(db, LocalBus())
    receipt = StatusUpdate(channel="twitter", platform_message_id="dm-77", status="read")
    assert await receiver.record_statuses([receipt, StatusUpdate("twitter", "not-ours", "read")]) == 0
    # Meanwhile the outbox records the send: the platform's id and "sent".
    async with db.session() as session:
        message_id = await bot_reply(session, "twitter", "late", platform_id=None)
        message = await session.get(Message, message_id)
        message.platform_message_id, message.delivery_status = "dm-77", "sent"
    await asyncio.sleep(0.6)
    async with db.session() as session:
        assert (await session.get(Message, message_id, populate_existing=True)).delivery_status == "read"


async def bot_reply(session, channel: str, sender: str, platform_id: str | None) -> int:
    """A reply the bot sent on `channel` to `sender`, with the platform's id for it."""
    from bot.storage.models import Conversation, Customer, Message

    now = utcnow()
    customer = Customer(channel=channel, external_id=sender, created_at=now)
    session.add(customer)
    await session.flush()
    talk = Conversation(customer_id=customer.id, channel=channel, status="bot", priority=0, is_public=False,
                        created_at=now, updated_at=now, last_message_at=now)
    session.add(talk)
    await session.flush()
    message = Message(conversation_id=talk.id, direction="out", author="bot", text="We open at 9.", data={},
                      platform_message_id=platform_id, delivery_status="sent" if platform_id else "pending",
                      created_at=now)
    session.add(message)
    await session.flush()
    return message.id


async def test_a_receipt_changes_only_a_message_sent_on_its_own_channel(db, monkeypatch):
    """Platform ids are unique within a platform only: a receipt arriving on one channel's
    webhook (maybe forged by whoever can post there) for another channel's message id is
    not applied to that message."""
    from bot import inbox as inbox_module
    from bot.bus import LocalBus
    from bot.messages import StatusUpdate
    from bot.storage.models import Message

    async with db.session() as session:
        on_whatsapp = await bot_reply(session, "whatsapp", "15550001", "wamid.HBgLMTU1NTAwMDEVAgARGBI")
        on_twitter = await bot_reply(session, "twitter", "1187365042719219712", "1798400000000000007")
    monkeypatch.setattr(inbox_module, "LATE_RECEIPT_SECONDS", 0.1)
    receiver = inbox_module.Inbox(db, LocalBus())
    crossed = [StatusUpdate("twitter", "wamid.HBgLMTU1NTAwMDEVAgARGBI", "read"),
               StatusUpdate("telegram", "1798400000000000007", "failed", error="forged"),
               StatusUpdate("facebook", "1798400000000000007", "read")]
    assert await receiver.record_statuses(crossed) == 0
    await asyncio.sleep(0.4)  # and their second try, a moment later, matches nothing either
    async with db.session() as session:
        for message_id in (on_whatsapp, on_twitter):
            message = await session.get(Message, message_id)
            assert (message.delivery_status, message.error) == ("sent", None)

    # The same receipts on their own channels are applied.
    assert await receiver.record_statuses([StatusUpdate("whatsapp", "wamid.HBgLMTU1NTAwMDEVAgARGBI", "read"),
                                           StatusUpdate("twitter", "1798400000000000007", "read")]) == 2
    async with db.session() as session:
        assert [(await session.get(Message, m)).delivery_status for m in (on_whatsapp, on_twitter)] == ["read", "read"]
