"""The review queue on real databases: what is collected, how it is grouped, what is done."""

from __future__ import annotations

import pytest

from bot.messages import utcnow
from bot.storage.history import add_event
from bot.storage.models import Conversation, Customer, Message
from bot.training.review import flag_message, group, mark_annotated, normalise, review_items


async def conversation(session, sender: str, lines: list[tuple[str, str, str | None, float | None]]) -> list[int]:
    """A conversation of (author, text, intent, confidence) lines; the messages' ids."""
    now = utcnow()
    customer = Customer(channel="rest", external_id=sender, created_at=now)
    session.add(customer)
    await session.flush()
    talk = Conversation(customer_id=customer.id, channel="rest", status="bot", priority=0, is_public=False,
                        created_at=now, updated_at=now, last_message_at=now)
    session.add(talk)
    await session.flush()
    ids = []
    for author, text, intent, confidence in lines:
        message = Message(conversation_id=talk.id, direction="in" if author == "customer" else "out", author=author,
                          text=text, data={}, intent=intent, confidence=confidence, created_at=now)
        session.add(message)
        await session.flush()
        ids.append(message.id)
        if author == "customer" and intent:
            await add_event(session, talk.id, "nlu", {"message_id": message.id, "intent": intent,
                                                      "confidence": confidence}, now)
            await session.flush()
    return ids


async def handed_over(session, message_id: int, reason: str) -> None:
    message = await session.get(Message, message_id)
    await add_event(session, message.conversation_id, "handoff", {"reason": reason, "priority": 1}, utcnow())
    await session.flush()


def test_normalised_text():
    assert normalise("  Do you sell GIFT-cards?? ") == "do you sell gift cards"


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_review_collects_groups_and_marks_done(db):
    async with db.session() as session:
        a = await conversation(session, "a", [("bot", "Hi! How can I help?", None, None),
                                              ("customer", "do you sell gift cards?", "shipping_cost", 0.9)])
        await handed_over(session, a[1], "out_of_scope")
        b = await conversation(session, "b", [("customer", "Do you sell GIFT cards??", "nlu_fallback", 0.45)])
        c = await conversation(session, "c", [("customer", "gift cards do you sell them", "promo_code", 0.5)])
        d = await conversation(session, "d", [("customer", "i want a human", "request_human", 0.97)])
        await handed_over(session, d[0], "customer_request")
        # A complaint understood and handed over went right: nothing to teach either.
        h = await conversation(session, "h", [("customer", "my coat arrived ripped, awful", "complaint", 0.98)])
        await handed_over(session, h[0], "complaint")
        e = await conversation(session, "e", [("customer", "hello", "greet", 0.99),
                                              ("bot", "Hi there", None, None),
                                              ("customer", "where is my parcel", "order_status", 0.9)])
        f = await conversation(session, "f", [("customer", "what is your phone number", "opening_hours", 0.3)])
        g = await conversation(session, "g", [("customer", "THX", "thank", 0.2)])

    async with db.session() as session:
        assert await flag_message(session, e[2], by="agent-ann")
    async with db.session() as session:
        assert not await flag_message(session, e[2], by="agent-bob")  # once is enough
        with pytest.raises(LookupError):
            await flag_message(session, e[1], by="agent-ann")  # the bot's line, not a customer's
        await mark_annotated(session, f[0], "contact", by="trainer")

    async with db.session() as session:
        items = await review_items(session, 0.6, known_examples=frozenset({"thx"}))
    by_id = {item.message_id: item for item in items}
    assert set(by_id) == {a[1], b[0], c[0], e[2], f[0], g[0]}  # not d (asked for a person), h (a complaint), "hello"
    assert by_id[a[1]].reasons == ("handed over (out_of_scope)",)
    assert by_id[b[0]].reasons == ("fallback",)
    assert by_id[c[0]].reasons == ("low confidence (0.50)",)
    assert by_id[e[2]].reasons == ("flagged by an agent",)
    assert [(line.author, line.text) for line in by_id[e[2]].context] == [("customer", "hello"), ("bot", "Hi there")]
    assert [(line.author, line.text) for line in by_id[a[1]].context] == [("bot", "Hi! How can I help?")]
    assert (by_id[f[0]].done, by_id[g[0]].done, by_id[e[2]].done) == (True, True, False)

    groups = group(items)
    assert [(g_.count, g_.done) for g_ in groups] == [(3, False), (1, False), (1, True), (1, True)]
    assert {i.message_id for i in groups[0].items} == {a[1], b[0], c[0]}
    assert groups[0].key == "do you sell gift cards"
    assert groups[1].items[0].message_id == e[2]
