"""Telling a customer's language apart from the bot's, on messages written for the purpose
(tests/conversations/other_languages.yml) and on the English ones the bot must keep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.language import LanguageDetector, language_detector
from bot.settings import Settings, SettingsError

CONVERSATIONS = Path(__file__).parent / "conversations"
PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(["en", "es", "fr", "de", "pt", "it"])


def other_language_messages() -> list[dict]:
    return yaml.safe_load((CONVERSATIONS / "other_languages.yml").read_text())["messages"]


def english_messages() -> list[str]:
    others = {m["text"] for m in other_language_messages()}
    realistic = [m["text"] for m in yaml.safe_load((CONVERSATIONS / "realistic_messages.yml").read_text())["messages"]
                 if m["text"] not in others]
    examples = []
    for block in yaml.safe_load((PROJECT / "data" / "nlu.yml").read_text())["nlu"]:
        for line in (block.get("examples") or "").splitlines():
            if line.startswith("- "):
                # "[Madrid](destination)" -> "Madrid"
                examples.append(re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", line[2:]))
    return realistic + examples


def test_messages_in_other_languages_are_told_apart_and_never_named_wrongly(detector):
    messages = other_language_messages()
    found = {m["text"]: detector.other_language(m["text"]) for m in messages}
    wrong = {m["text"]: found[m["text"]] for m in messages if found[m["text"]] not in (m["language"], None)}
    assert wrong == {}
    recognised = sum(found[m["text"]] == m["language"] for m in messages)
    spanish = [m for m in messages if m["language"] == "es"]
    assert recognised >= 0.85 * len(messages)
    assert sum(found[m["text"]] == "es" for m in spanish) >= 0.9 * len(spanish)


def test_english_messages_stay_with_the_bot(detector):
    messages = english_messages()
    assert len(messages) > 500
    assert [t for t in messages if detector.other_language(t)] == []


@pytest.mark.parametrize("text", ["hola", "ok", "Madrid", "gracias", "12345", "", "blorp zindle quaxx",
                                  "ZZ9 9ZZ", "AB1 2CD", "SW1A 1AA"])
def test_one_word_codes_numbers_and_made_up_words_tell_nothing(detector, text):
    assert detector.other_language(text) is None


def test_one_language_means_no_detection_and_an_unknown_code_is_a_clear_error():
    assert language_detector(Settings.from_mapping({"CUSTOMER_LANGUAGES": "en"})) is None
    with pytest.raises(SettingsError, match="'xx' is not a language code"):
        language_detector(Settings.from_mapping({"CUSTOMER_LANGUAGES": "en,xx"}))
