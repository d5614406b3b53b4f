"""The console's operations on both backends: the claim race, reply through the outbox,
notes, transfer, resolve with a rating question, accounts and sessions."""

import asyncio
from datetime import timedelta

import pytest

from bot.bus import CONSOLE_TOPIC, LocalBus, customer_topic
from bot.console import accounts as console_accounts
from bot.console.desk import SATISFACTION_BUTTONS, Desk, DeskError
from bot.messages import utcnow
from bot.storage import accounts, history
from bot.storage import console as store
from bot.storage.models import Message, OutboxItem
from bot.storage.queue import hand_to_queue
from sqlalchemy import select


async def queued(db, sender: str, at=None) -> int:
    at = at or utcnow()
    async with db.session() as session:
        customer = await history.customer_for(session, "webchat", sender, None, at)
        conversation = await history.open_conversation(session, customer, "webchat", at)
        await hand_to_queue(session, conversation, "customer_request", 0, at)
        return conversation.id


async def agents(db, *names: str, role: str = "agent") -> None:
    for name in names:
        await console_accounts.add_user(db, name, role, "password-of-" + name, utcnow())


async def test_two_agents_claiming_at_once_one_wins_and_the_other_is_told(db):
    conversation_id = await queued(db, "race")
    desk = Desk(db, LocalBus())

    async def claim(agent: str):
        try:
            await desk.claim(conversation_id, agent)
            return agent
        except DeskError as error:
            return error

    results = await asyncio.gather(*(claim(f"agent{n}") for n in range(6)))
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, DeskError)]
    assert len(winners) == 1 and len(losers) == 5
    assert all(str(e) == f"already taken by {winners[0]}" and e.status == 409 for e in losers)
    record = await desk.record(conversation_id, winners[0])
    assert record["conversation"]["agent"] == winners[0] and record["conversation"]["mine"]
    assert [e["kind"] for e in record["events"]].count("claimed") == 1


async def test_a_reply_goes_to_the_outbox_as_the_agents_and_everyone_hears(db):
    await agents(db, "bob")
    bus = LocalBus()
    desk = Desk(db, bus)
    conversation_id = await queued(db, "reply")
    await desk.claim(conversation_id, "ann")
    async with bus.subscribe(CONSOLE_TOPIC) as console, bus.subscribe(customer_topic("webchat:reply")) as customer:
        with pytest.raises(DeskError, match="belongs to ann"):
            await desk.reply(conversation_id, "bob", "hi")
        message_id = await desk.reply(conversation_id, "ann", "  Hello, I'm Ann.  ")
        assert (await console.get(1))["type"] == "reply"
        await desk.transfer(conversation_id, "ann", "bob", supervisor=True)
        assert (await customer.get(1)) == {"type": "status", "status": "assigned", "agent_name": "bob"}
    async with db.session() as session:
        message = await session.get(Message, message_id)
        item = (await session.execute(select(OutboxItem).where(OutboxItem.message_id == message_id))).scalar_one()
    assert (message.author, message.agent_name, message.text, message.delivery_status) == \
        ("agent", "ann", "Hello, I'm Ann.", "pending")
    assert item.payload["author"] == "agent" and item.payload["recipient_id"] == "reply"


async def test_transfer_needs_an_active_agent_and_the_owner(db):
    await agents(db, "ann", "bob")
    await agents(db, "tina", role="trainer")
    desk = Desk(db, LocalBus())
    conversation_id = await queued(db, "transfer")
    await desk.claim(conversation_id, "ann")
    with pytest.raises(DeskError, match="not an active agent"):
        await desk.transfer(conversation_id, "ann", "tina", supervisor=False)
    with pytest.raises(DeskError, match="belongs to ann"):
        await desk.transfer(conversation_id, "bob", "bob", supervisor=False)
    await desk.transfer(conversation_id, "ann", "bob", supervisor=False)
    record = await desk.record(conversation_id, "bob")
    assert record["conversation"]["agent"] == "bob"
    assert record["events"][-1]["data"] == {"from": "ann", "to": "bob", "by": "ann"}
    async with db.session() as session:
        load = {a.name: a.assigned for a in await store.agents_load(session)}
    assert load == {"ann": 0, "bob": 1, "tina": 0}


async def test_resolve_asks_for_a_rating_that_the_next_answer_gives(db):
    desk = Desk(db, LocalBus())
    conversation_id = await queued(db, "rate")
    await desk.claim(conversation_id, "ann")
    await desk.note(conversation_id, "ann", "customer wants a refund <b>now</b>")
    await desk.resolve(conversation_id, "ann", ask_satisfaction=True, supervisor=False)
    record = await desk.record(conversation_id, "ann")
    assert record["conversation"]["status"] == "closed"
    assert record["notes"][0]["text"] == "customer wants a refund <b>now</b>"
    question = record["messages"][-1]
    assert [b["payload"] for b in question["buttons"]] == [b.payload for b in SATISFACTION_BUTTONS]
    assert question["buttons"][3]["payload"] == '/rate{"score": 4}'
    async with db.session() as session:
        customer = await history.customer_for(session, "webchat", "rate", None, utcnow())
        waiting_for = await store.awaiting_rating(session, customer.id)
        assert waiting_for is not None and waiting_for.id == conversation_id
        await store.record_satisfaction(session, waiting_for, 4, utcnow())
    async with db.session() as session:
        assert await store.awaiting_rating(session, customer.id) is None
    assert (await desk.record(conversation_id, "ann"))["satisfaction"] == 4


async def test_the_expected_wait_is_the_median_of_recent_claims(db):
    desk = Desk(db, LocalBus())
    now = utcnow()
    for minutes, sender in ((2, "w1"), (10, "w2"), (4, "w3")):
        await desk.claim(await queued(db, sender, now - timedelta(minutes=minutes)), "ann")
    async with db.session() as session:
        median = await store.median_recent_wait(session)
    assert 235 < median < 250


async def test_accounts_first_admin_and_sessions(db):
    now = utcnow()
    password = await console_accounts.ensure_first_admin(db, now)
    assert password and await console_accounts.ensure_first_admin(db, now) is None
    with pytest.raises(console_accounts.AccountError, match="already exists"):
        await console_accounts.add_user(db, "admin", "agent", None, now)
    with pytest.raises(console_accounts.AccountError, match="role"):
        await console_accounts.add_user(db, "x", "boss", None, now)
    async with db.session() as session:
        await accounts.save_session(session, "k" * 64, {"session": {"agent": "admin"}}, "admin",
                                    now + timedelta(hours=1))
        assert await accounts.load_session(session, "k" * 64, now) == {"session": {"agent": "admin"}}
        assert await accounts.load_session(session, "k" * 64, now + timedelta(hours=2)) is None
    await console_accounts.disable(db, "admin")
    async with db.session() as session:
        assert await accounts.load_session(session, "k" * 64, now) is None
        assert not (await accounts.get_agent(session, "admin")).active


async def test_return_to_the_bot(db):
    bus = LocalBus()
    desk = Desk(db, bus)
    conversation_id = await queued(db, "back")
    await desk.claim(conversation_id, "ann")
    with pytest.raises(DeskError, match="belongs to ann"):
        await desk.hand_back(conversation_id, "bob", supervisor=False)
    async with bus.subscribe(customer_topic("webchat:back")) as customer:
        await desk.hand_back(conversation_id, "ann", supervisor=False)
        assert await customer.get(1) == {"type": "status", "status": "bot", "agent_name": None}
    record = await desk.record(conversation_id, "ann")
    assert record["conversation"]["status"] == "bot" and record["events"][-1]["kind"] == "handback"
    with pytest.raises(DeskError, match="claim it first"):
        await desk.reply(conversation_id, "ann", "still there?")
