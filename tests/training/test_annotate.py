"""Annotation edits only the lines it adds: comments, blank lines, quoting and block style stay."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.settings import PROJECT_DIR
from bot.training.annotate import AnnotationError, add_example, add_intent, intent_examples, set_response
from bot.training.nlu import read_examples
from bot.training.project import Project
from tests.training.conftest import project_env


def inserted(text: str, after: str, lines: str, occurrence: int = 1) -> str:
    """`text` with `lines` inserted after the `occurrence`-th line equal to `after`."""
    out, seen = [], 0
    for line in text.splitlines(keepends=True):
        out.append(line)
        if line.rstrip("\n") == after:
            seen += 1
            if seen == occurrence:
                out.append(lines)
    assert seen >= occurrence, after
    return "".join(out)


def test_an_example_is_one_new_line_in_its_intents_block(demo_copy: Project):
    before = demo_copy.nlu_file.read_text()
    others = {p: p.read_text()
              for p in (demo_copy.domain_file, demo_copy.rules_file, demo_copy.data_dir / "stories.yml")}

    result = add_example(demo_copy, "greet", "  hola   amigo ")

    assert result.added and result.text == "hola amigo"
    assert demo_copy.nlu_file.read_text() == inserted(before, "    - morning!", "    - hola amigo\n")
    assert {p: p.read_text() for p in others} == others


def test_the_same_example_again_changes_nothing(demo_copy: Project):
    add_example(demo_copy, "greet", "hola amigo")
    after_first = demo_copy.nlu_file.read_text()
    assert not add_example(demo_copy, "greet", "Hola, amigo!").added
    assert demo_copy.nlu_file.read_text() == after_first


def test_a_new_intent_adds_its_example_response_and_rule_in_place(demo_copy: Project):
    nlu, domain, rules = (demo_copy.nlu_file.read_text(), demo_copy.domain_file.read_text(),
                          demo_copy.rules_file.read_text())
    stories = (demo_copy.data_dir / "stories.yml").read_text()

    add_intent(demo_copy, "gift_cards", "do you sell gift cards?", "Yes: gift cards from £10, online and in stores.")

    assert demo_copy.nlu_file.read_text() == inserted(
        nlu, "    - help me with my tax return",
        "\n- intent: gift_cards\n  examples: |\n    - do you sell gift cards?\n")
    expected_domain = inserted(domain, "  - out_of_scope", "  - gift_cards\n")
    expected_domain = inserted(
        expected_domain, '    - text: "Sorry, I didn\'t quite get that. Could you say it another way?"',
        '\n  utter_gift_cards:\n    - text: "Yes: gift cards from £10, online and in stores."\n', occurrence=2)
    assert demo_copy.domain_file.read_text() == expected_domain
    assert demo_copy.rules_file.read_text() == rules + (
        "\n- rule: ask gift_cards\n  steps:\n  - intent: gift_cards\n  - action: utter_gift_cards\n")
    assert (demo_copy.data_dir / "stories.yml").read_text() == stories
    # Still Rasa's format: the example is read back under its intent.
    assert ("do you sell gift cards?", "gift_cards") in {(e.text, e.label) for e in read_examples(demo_copy.nlu_file)}
    assert intent_examples(demo_copy)["gift_cards"] == ["do you sell gift cards?"]


def test_a_second_new_intent_keeps_the_spacing(tiny_copy: Project):
    add_intent(tiny_copy, "gift_cards", "gift cards?", "Yes.")
    add_intent(tiny_copy, "careers", "are you hiring", "See our jobs page.")
    add_example(tiny_copy, "gift_cards", "a gift voucher")
    text = tiny_copy.nlu_file.read_text()
    assert text.endswith("- intent: gift_cards\n  examples: |\n    - gift cards?\n    - a gift voucher\n\n"
                         "- intent: careers\n  examples: |\n    - are you hiring\n")
    assert "# Opening hours: people ask in many ways.\n" in text
    domain = tiny_copy.domain_file.read_text()
    assert "  - opening_hours\n  - gift_cards\n  - careers\n\nresponses:" in domain
    assert ('  utter_default:\n    - text: "Sorry, I did not get that."\n\n'
            '  utter_gift_cards:\n    - text: "Yes."\n\n  utter_careers:\n    - text: "See our jobs page."\n\n'
            'session_config:') in domain


def test_editing_a_response_keeps_the_rest(tiny_copy: Project):
    domain = tiny_copy.domain_file.read_text()
    set_response(tiny_copy, "opening_hours", "We open at ten.")
    assert tiny_copy.domain_file.read_text() == domain.replace("We open at nine.", "We open at ten.")


@pytest.mark.parametrize(("call", "message"), [
    (lambda p: add_example(p, "no_such_intent", "hello"), "no intent"),
    (lambda p: add_intent(p, "greet", "hello", "Hi"), "exists"),
    (lambda p: add_intent(p, "Gift Cards", "hello", "Hi"), "lower_case"),
    (lambda p: add_intent(p, "gift_cards", "hello", "  "), "--response"),
    (lambda p: add_example(p, "greet", "   "), "empty"),
])
def test_refused_edits_leave_the_files_alone(tiny_copy: Project, call, message):
    files = {p: p.read_bytes() for p in (tiny_copy.nlu_file, tiny_copy.domain_file, tiny_copy.rules_file)}
    with pytest.raises(AnnotationError, match=message):
        call(tiny_copy)
    assert {p: p.read_bytes() for p in files} == files


def test_the_commands(tiny_copy: Project, tmp_path):
    env = {**os.environ, **project_env(tiny_copy, tmp_path / "models",
                                       DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")}

    def bot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, env=env,
                              capture_output=True, text=True, timeout=120)

    created = bot("annotate", "do you sell gift cards", "--intent", "gift_cards", "--new",
                  "--response", "Yes, from £10.")
    assert created.returncode == 0, created.stderr
    assert bot("annotate", "gift voucher please", "--intent", "gift_cards").returncode == 0
    unknown = bot("annotate", "hello", "--intent", "nope")
    assert unknown.returncode == 1 and "no intent 'nope'" in unknown.stderr
    listed = bot("intents")
    assert listed.stdout.splitlines()[-2:] == ["gift_cards     2", "4 intents, 32 examples"]
    domain = tiny_copy.domain_file.read_text()
    assert bot("annotate", "--intent", "opening_hours", "--response", "We open at ten.").returncode == 0
    assert tiny_copy.domain_file.read_text() == domain.replace("We open at nine.", "We open at ten.")
