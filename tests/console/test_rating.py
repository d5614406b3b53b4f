"""Reading a customer's answer to the satisfaction question; the hand-over notice's place."""

import pytest

from bot.console.desk import SATISFACTION_BUTTONS
from bot.messages import IncomingMessage, OutgoingMessage
from bot.router import satisfaction_score
from bot.worker import _with_notice


def incoming(text: str, payload: str | None = None, is_public: bool = False) -> IncomingMessage:
    return IncomingMessage(channel="webchat", sender_id="s", text=text, message_id="m", payload=payload,
                           is_public=is_public)


@pytest.mark.parametrize("button", SATISFACTION_BUTTONS)
def test_every_rating_button_reads_as_its_score(button):
    assert satisfaction_score(incoming(button.title, button.payload)) == int(button.title)


@pytest.mark.parametrize("text, score", [("4", 4), (" 5 ", 5), ("3/5", 3), ("2 stars", 2), ("1.", 1)])
def test_a_typed_number_is_a_rating(text, score):
    assert satisfaction_score(incoming(text)) == score


@pytest.mark.parametrize("text, payload", [("6", None), ("0", None), ("4 more questions", None),
                                           ("where is order 4", None), ("Returns", "/returns_policy"),
                                           ("9", '/rate{"score": 9}')])
def test_anything_else_is_not_a_rating(text, payload):
    assert satisfaction_score(incoming(text, payload)) is None


def test_the_notice_is_private():
    private = [OutgoingMessage(channel="webchat", recipient_id="s", text="connecting you")]
    assert [r.text for r in _with_notice(private, incoming("help"), "wait 2 min")] == ["connecting you", "wait 2 min"]
    public = [OutgoingMessage(channel="facebook", recipient_id="s", text="sorry!", is_public=True),
              OutgoingMessage(channel="facebook", recipient_id="s", text="DM text", is_public=False)]
    shaped = _with_notice(public, incoming("bad", is_public=True), "wait 2 min")
    assert [r.text for r in shaped] == ["sorry!", "DM text\n\nwait 2 min"]


def test_a_rating_button_pressed_again_gets_a_polite_reply_not_the_model():
    from bot.router import PoliteReply, route

    decision = route(incoming("4", '/rate{"score": 4}'), "bot")
    assert isinstance(decision, PoliteReply) and decision.reason == "rating_again"
