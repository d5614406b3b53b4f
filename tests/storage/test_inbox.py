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
    from tests.training.test_review import conversation

    monkeypatch.setattr(inbox_module, "LATE_RECEIPT_SECONDS", 0.3)
    receiver = inbox_module.Inbox(db, LocalBus())
    receipt = StatusUpdate(channel="twitter", platform_message_id="dm-77", status="read")
    assert await receiver.record_statuses([receipt, StatusUpdate("twitter", "not-ours", "read")]) == 0
    # Meanwhile the outbox records the send: the platform's id and "sent".
    async with db.session() as session:
        (message_id,) = await conversation(session, "late", [("bot", "We open at 9.", None, None)])
        message = await session.get(Message, message_id)
        message.platform_message_id, message.delivery_status = "dm-77", "sent"
    await asyncio.sleep(0.6)
    async with db.session() as session:
        assert (await session.get(Message, message_id, populate_existing=True)).delivery_status == "read"
