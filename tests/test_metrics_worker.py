"""The dialogue worker counts a hand-over once it is committed, including the one the model
never sees: abuse on a public post, queued for a person (bot/moderation.py)."""

from __future__ import annotations

from sqlalchemy import select

from bot import metrics
from bot.bus import LocalBus
from bot.messages import IncomingMessage, utcnow
from bot.sentiment import SentimentScorer
from bot.settings import Settings
from bot.storage import inbox as inbox_store
from bot.storage.models import Conversation
from bot.worker import DialogueWorker


class NoModel:
    """Moderated messages never reach the model; a call would be a bug."""

    async def handle(self, *args, **kwargs):
        raise AssertionError("a moderated message reached the model")


def comment(n: int, text: str) -> IncomingMessage:
    return IncomingMessage(channel="facebook", sender_id=f"fan{n}", text=text, message_id=f"c{n}", is_public=True,
                           thread_id=f"post_{n}")


def handovers(reason: str) -> float:
    return metrics.HANDOVERS.labels(reason)._value.get()


async def test_abuse_on_a_public_post_is_counted_as_a_handover_and_spam_is_not(db, database_url):
    worker = DialogueWorker(db, NoModel(), LocalBus(), Settings.from_mapping({"DATABASE_URL": database_url}),
                            SentimentScorer())
    before = handovers("abuse")
    async with db.session() as session:
        await inbox_store.accept(session, [comment(1, "you are all idiots"),
                                           comment(2, "free followers, click here")], utcnow())
    async with db.session() as session:
        items = await inbox_store.claim(session, utcnow(), 60, 2)
    for item in items:
        await worker.process(item)
    assert handovers("abuse") - before == 1
    async with db.session() as session:
        statuses = sorted((await session.execute(select(Conversation.status))).scalars())
    assert statuses == ["bot", "queued"]
