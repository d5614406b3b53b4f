"""Reopening a resolved conversation, on both backends: who may, what it records, what the
customer is told, and what becomes of a satisfaction question still open (a rating
typed after the reopening reaches the agent as a message; asked again, the new answer
is the rating)."""

from __future__ import annotations

from sqlalchemy import select

from bot.bus import CONSOLE_TOPIC, LocalBus, customer_topic
from bot.console import accounts as console_accounts
from bot.console.desk import Desk, DeskError
from bot.messages import IncomingMessage, utcnow
from bot.sentiment import SentimentScorer
from bot.settings import Settings
from bot.storage import console as store
from bot.storage import history
from bot.storage import inbox as inbox_store
from bot.storage.models import AuditEntry, Conversation, Customer, Message, Satisfaction
from bot.worker import DialogueWorker
from tests.console.test_desk import agents, queued

import pytest


class NoModel:
    """A conversation with a person never reaches the model; a call would be a bug."""

    async def handle(self, *args, **kwargs):
        raise AssertionError("a message for the agent reached the model")


async def resolved(desk: Desk, sender: str, agent: str = "ann", *, ask_satisfaction: bool = False) -> int:
    conversation_id = await queued(desk.db, sender)
    await desk.claim(conversation_id, agent)
    await desk.reply(conversation_id, agent, "Sorted, have a good day!")
    await desk.resolve(conversation_id, agent, ask_satisfaction=ask_satisfaction, supervisor=False)
    return conversation_id


async def test_the_agent_who_handled_it_reopens_it_and_the_customer_sees_them_join(db):
    await agents(db, "ann")
    await console_accounts.set_display_name(db, "ann", "Ann from Northwind")
    bus = LocalBus()
    desk = Desk(db, bus)
    conversation_id = await resolved(desk, "reopen-own")
    async with bus.subscribe(CONSOLE_TOPIC) as console, bus.subscribe(customer_topic("webchat:reopen-own")) as chat:
        await desk.reopen(conversation_id, "ann", supervisor=False)
        assert await console.get(1) == {"type": "reopened", "conversation_id": conversation_id}
        assert await chat.get(1) == {"type": "status", "status": "assigned", "agent_name": "Ann from Northwind"}
    record = await desk.record(conversation_id, "ann")
    assert record["conversation"]["status"] == "assigned" and record["conversation"]["mine"]
    reopened = [e for e in record["events"] if e["kind"] == "reopened"]
    assert [e["data"] for e in reopened] == [{"by": "ann", "previous_agent": "ann"}]
    # Hers again: she writes to the customer, and can resolve it again.
    await desk.reply(conversation_id, "ann", "One more thing: your refund went out today.")
    await desk.resolve(conversation_id, "ann", ask_satisfaction=False, supervisor=False)
    async with db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
        audit = (await session.execute(select(AuditEntry.actor, AuditEntry.action).where(
            AuditEntry.target == f"conversation:{conversation_id}").order_by(AuditEntry.id))).all()
    assert conversation.status == "closed" and conversation.closed_at is not None
    assert [tuple(a) for a in audit if a[1] in ("resolve", "reopen")] == [
        ("ann", "resolve"), ("ann", "reopen"), ("ann", "resolve")]


async def test_only_its_agents_and_supervisors_may_reopen_and_only_a_resolved_latest_one(db):
    await agents(db, "ann", "bob")
    await agents(db, "sue", role="supervisor")
    desk = Desk(db, LocalBus())
    conversation_id = await resolved(desk, "reopen-who")
    with pytest.raises(DeskError, match="only the agents who handled") as refused:
        await desk.reopen(conversation_id, "bob", supervisor=False)
    assert refused.value.status == 403
    # A supervisor may, and has it then; reopening twice is refused.
    await desk.reopen(conversation_id, "sue", supervisor=True)
    with pytest.raises(DeskError, match="is assigned, not resolved"):
        await desk.reopen(conversation_id, "sue", supervisor=True)
    # ann wrote in it, so she may reopen it after sue resolves it again, though sue had it last.
    await desk.resolve(conversation_id, "sue", ask_satisfaction=False, supervisor=True)
    await desk.reopen(conversation_id, "ann", supervisor=False)
    await desk.resolve(conversation_id, "ann", ask_satisfaction=False, supervisor=False)
    # The customer wrote again since, in a new conversation: the old one stays resolved.
    async with db.session() as session:
        customer = (await session.execute(select(Customer).where(Customer.external_id == "reopen-who"))).scalar_one()
        newer = await history.open_conversation(session, customer, "webchat", utcnow())
        newer_id = newer.id
    with pytest.raises(DeskError, match=rf"newer conversation since \(#{newer_id}\)"):
        await desk.reopen(conversation_id, "ann", supervisor=False)
    with pytest.raises(DeskError, match="no conversation") as missing:
        await desk.reopen(10 ** 6, "sue", supervisor=True)
    assert missing.value.status == 404


async def customer_writes(db, database_url: str, sender: str, text: str, n: int) -> None:
    worker = DialogueWorker(db, NoModel(), LocalBus(), Settings.from_mapping({"DATABASE_URL": database_url}),
                            SentimentScorer())
    message = IncomingMessage(channel="webchat", sender_id=sender, text=text, message_id=f"{sender}-{n}")
    async with db.session() as session:
        await inbox_store.accept(session, [message], utcnow())
    async with db.session() as session:
        (item,) = await inbox_store.claim(session, utcnow(), 60, 1)
    await worker.process(item)


async def conversations_of(db, sender: str) -> list[Conversation]:
    async with db.session() as session:
        return list((await session.execute(
            select(Conversation).join(Customer).where(Customer.external_id == sender)
            .order_by(Conversation.id))).scalars())


async def test_a_rating_typed_after_a_reopening_goes_to_the_agent_and_the_next_answer_counts(db, database_url):
    await agents(db, "ann")
    desk = Desk(db, LocalBus())
    sender = "reopen-rating"
    conversation_id = await resolved(desk, sender, ask_satisfaction=True)
    async with db.session() as session:
        customer_id = (await session.get(Conversation, conversation_id)).customer_id
        assert (await store.awaiting_rating(session, customer_id)).id == conversation_id
    await desk.reopen(conversation_id, "ann", supervisor=False)
    async with db.session() as session:
        assert await store.awaiting_rating(session, customer_id) is None

    # The question was withdrawn: "4" is something the customer said to ann, in the same
    # conversation, not a rating and not a new conversation.
    await customer_writes(db, database_url, sender, "4", 1)
    (conversation,) = await conversations_of(db, sender)
    async with db.session() as session:
        last = await history.last_from_customer(session, conversation_id)
        ratings = (await session.execute(select(Satisfaction))).scalars().all()
    assert (last.text, conversation.status, ratings) == ("4", "assigned", [])

    # Resolved and asked again: the answer is the rating.
    await desk.resolve(conversation_id, "ann", ask_satisfaction=True, supervisor=False)
    await customer_writes(db, database_url, sender, "5", 2)
    async with db.session() as session:
        rating = (await session.execute(select(Satisfaction))).scalar_one()
    assert (rating.conversation_id, rating.score, rating.agent_name) == (conversation_id, 5, "ann")

    # Rated, reopened, asked a third time: the latest answer replaces the earlier, one rating.
    await desk.reopen(conversation_id, "ann", supervisor=False)
    await desk.resolve(conversation_id, "ann", ask_satisfaction=True, supervisor=False)
    await customer_writes(db, database_url, sender, "3", 3)
    async with db.session() as session:
        scores = (await session.execute(select(Satisfaction.score))).scalars().all()
        events = (await session.execute(select(Message.text).where(
            Message.conversation_id == conversation_id, Message.author == "customer").order_by(Message.id))).scalars()
    assert scores == [3] and list(events)[-3:] == ["4", "5", "3"]
    assert len(await conversations_of(db, sender)) == 1
