"""A customer writing in another language than the bot's: handed to a person at once, the
model never asked, and every fixed message on the way (hand-over, wait or hours, the
rating question, the thanks) in their language where the brand wrote it (bot/phrases.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bus import LocalBus
from bot.console.desk import Desk
from bot.language import LanguageDetector
from bot.messages import IncomingMessage, utcnow
from bot.phrases import Phrasebook, PhrasesError, shipped
from bot.router import HandOver, ToModel, route
from bot.sentiment import SentimentScorer
from bot.settings import Settings
from bot.storage import inbox as inbox_store
from bot.storage.models import Conversation, Message
from bot.worker import DialogueWorker


class NoModel:
    async def handle(self, *args, **kwargs):
        raise AssertionError("a message in another language reached the model")


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(["en", "es", "fr"])


def message(text: str, n: int) -> IncomingMessage:
    return IncomingMessage(channel="webchat", sender_id="maria", text=text, message_id=f"m{n}")


async def take(db, worker: DialogueWorker, incoming: IncomingMessage) -> None:
    async with db.session() as session:
        await inbox_store.accept(session, [incoming], utcnow())
    async with db.session() as session:
        (item,) = await inbox_store.claim(session, utcnow(), 60, 1)
    await worker.process(item)


async def bot_texts(db) -> list[str]:
    async with db.session() as session:
        return list((await session.execute(select(Message.text).where(Message.author == "bot")
                                           .order_by(Message.id))).scalars())


async def test_spanish_is_handed_over_and_spoken_to_in_spanish_through_to_the_rating(db, database_url, detector):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "BUSINESS_HOURS": "always"})
    worker = DialogueWorker(db, NoModel(), LocalBus(), settings, SentimentScorer(), language=detector)
    await take(db, worker, message("hola, mi pedido no ha llegado todavía", 1))
    async with db.session() as session:
        (conversation,) = (await session.execute(select(Conversation))).scalars()
    assert (conversation.status, conversation.handoff_reason, conversation.language) == ("queued", "other_language", "es")
    handover, notice = await bot_texts(db)
    assert handover == shipped().say("handoff_other_language", "es")
    assert notice == shipped().say("wait_unknown", "es")  # no waits measured yet

    desk = Desk(db, LocalBus())
    await desk.claim(conversation.id, "ana")
    await desk.resolve(conversation.id, "ana", ask_satisfaction=True, supervisor=False)
    assert (await bot_texts(db))[-1] == shipped().say("satisfaction_question", "es")
    await take(db, worker, message("5", 2))
    assert (await bot_texts(db))[-1] == shipped().say("thanks_for_rating", "es")


def test_the_router_hands_other_languages_over_but_never_buttons_or_gibberish():
    text = message("¿dónde está mi pedido?", 1)
    assert route(text, "bot", other_language="es") == HandOver("other_language")
    assert isinstance(route(text, "bot"), ToModel)
    pressed = IncomingMessage(channel="webchat", sender_id="s", text="Sí", message_id="b", payload="/affirm")
    assert route(pressed, "bot", other_language="es") == ToModel("/affirm")
    assert route(message("asdfghjkl", 2), "bot", other_language="es").reason == "gibberish"


def test_a_brands_phrases_add_a_language_and_change_a_phrase(tmp_path: Path):
    brand = tmp_path / "phrases.yml"
    brand.write_text('fr:\n  wait_unknown: "Quelqu\'un va vous répondre."\nes:\n  wait_unknown: "¡Ya vamos!"\n')
    phrases = Phrasebook.load(brand)
    assert phrases.say("wait_unknown", "fr") == "Quelqu'un va vous répondre."
    assert phrases.say("wait_unknown", "es") == "¡Ya vamos!"
    # What the brand did not write comes in the bot's own language.
    assert phrases.say("thanks_for_rating", "fr") == shipped().say("thanks_for_rating", "en")
    assert phrases.say("minutes", "es", n=4) == "unos 4 minutos"


@pytest.mark.parametrize("content, error", [("- just a list\n", "a block of phrases per language"),
                                            ("es: [unclosed\n", "not valid YAML")])
def test_a_phrases_file_that_cannot_be_used_is_a_clear_error(tmp_path: Path, content, error):
    brand = tmp_path / "phrases.yml"
    brand.write_text(content)
    with pytest.raises(PhrasesError, match=error):
        Phrasebook.load(brand)
    with pytest.raises(PhrasesError, match="No such file"):
        Phrasebook.load(tmp_path / "missing.yml")


def test_every_shipped_language_has_every_phrase():
    phrases = shipped()
    english = set(phrases.by_language["en"])
    assert {language: english - set(block) for language, block in phrases.by_language.items()} == {
        language: set() for language in phrases.by_language}
    assert len(phrases.get("weekdays", "es")) == 7


@pytest.mark.parametrize("web", [True, False], ids=["web", "worker-only"])
def test_a_phrases_file_that_cannot_be_used_stops_any_process_at_start(tmp_path: Path, web: bool):
    from bot.app import Roles, create_app

    brand = tmp_path / "phrases.yml"
    brand.write_text("- just a list\n")
    settings = Settings.from_mapping({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                                      "PHRASES_FILE": str(brand)})
    with pytest.raises(PhrasesError, match="a block of phrases per language"):
        create_app(settings, Roles(web=web, worker=True))
