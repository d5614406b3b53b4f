import time

import pytest

from bot.gibberish import MAX_CHARS, looks_like_gibberish
from bot.messages import IncomingMessage
from bot.router import PoliteReply, ToModel, route


@pytest.mark.parametrize("text", [
    "asdfgh", "asdf", "ASDFGHJKL", "qwerty", "lkjhgf", "asdf jkl", "zxcvbnm!!", "sdfkjsdkfjh",
    "aaaaaaaaaaaaaaaa", "jkjkjkjk", "hahahaha", "a" * 10_000, "dfgh dfgh dfgh", "ффффффф",
])
def test_mashing_and_held_keys_are_gibberish(text):
    assert looks_like_gibberish(text)


@pytest.mark.parametrize("text", [
    "where is my order", "hi", "ok", "thx", "thnx", "pls hlp", "123456", "order 123456 asdf",
    "blorp zindle quaxx frobnicate", "noooooo my parcel is late", "¿dónde está mi pedido?",
    "我的订单在哪里", "rhythm", "strengths", "", "👍", "hmm ok",
])
def test_words_short_forms_and_other_scripts_are_not(text):
    assert not looks_like_gibberish(text)


def test_gibberish_gets_a_request_to_rephrase_not_the_model():
    message = IncomingMessage(channel="rest", sender_id="s", text="asdfgh", message_id="1")
    decision = route(message, "bot")
    assert isinstance(decision, PoliteReply) and decision.reason == "gibberish"
    assert "other words" in decision.text
    words = IncomingMessage(channel="rest", sender_id="s", text="asdf, where is my order?", message_id="2")
    assert route(words, "bot") == ToModel("asdf, where is my order?")


def test_a_huge_text_is_judged_by_its_beginning():
    crafted = "ab" * 500_000 + " where"
    started = time.process_time()
    assert looks_like_gibberish(crafted)  # the real word lies past MAX_CHARS
    assert time.process_time() - started < 0.5
    assert not looks_like_gibberish("where " + "ab" * (MAX_CHARS // 2))
