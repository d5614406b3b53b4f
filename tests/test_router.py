import pytest

from bot.messages import Attachment, IncomingMessage
from bot.router import PoliteReply, ToHuman, ToModel, route


def message(text="", **kwargs) -> IncomingMessage:
    return IncomingMessage(channel="rest", sender_id="s", text=text, message_id="1", **kwargs)


@pytest.mark.parametrize("status", ["queued", "assigned"])
def test_a_person_owns_the_conversation_so_the_bot_stays_silent(status):
    assert route(message("hello?"), status) == ToHuman()


def test_text_goes_to_the_model():
    assert route(message("  where is my order  "), "bot") == ToModel("where is my order")


def test_a_button_press_sends_its_payload():
    assert route(message("Track my order", payload="/order_status"), "bot") == ToModel("/order_status")


def test_a_sticker_gets_a_polite_answer():
    decision = route(message(attachments=(Attachment("sticker"),)), "bot")
    assert isinstance(decision, PoliteReply)
    assert "sticker" in decision.text and decision.reason == "unreadable_sticker"


@pytest.mark.parametrize("text", ["👍", "🙂🙂", "!!!", "❤️ 😍"])
def test_text_without_words_gets_a_polite_answer(text):
    assert isinstance(route(message(text), "bot"), PoliteReply)


def test_other_languages_still_go_to_the_model():
    assert route(message("¿dónde está mi pedido?"), "bot") == ToModel("¿dónde está mi pedido?")


def test_abuse_on_a_public_post_is_moderated_not_answered():
    from bot.router import Moderate

    decision = route(message("you idiots stole my money", is_public=True, thread_id="c1"), "bot")
    assert decision == Moderate("abuse")


def test_the_same_words_in_private_still_reach_the_model():
    assert isinstance(route(message("you idiots stole my money"), "bot"), ToModel)
