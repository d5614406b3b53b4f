"""Rules and stories edited from the trainer's pages: only the entry's lines change."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from bot.training.annotate import AnnotationError, replace_example, intent_examples
from bot.training.flows import flows_for_intent, remove_flow, save_flow
from bot.training.project import Project

GIFT_RULE = """- rule: refund question twice
  steps:
  - intent: refund_status
  - action: utter_refund_status
"""


def test_the_flows_of_an_intent_are_its_rules_and_stories_as_written(demo_copy: Project):
    flows = flows_for_intent(demo_copy, "order_status")
    assert {(f.kind, f.name) for f in flows} >= {("story", "greet then track an order")}
    story = next(f for f in flows if f.name == "greet then track an order")
    assert story.file == "stories.yml"
    assert story.yaml.startswith("- story: greet then track an order\n  steps:\n  - intent: greet\n")
    assert "  - active_loop: order_status_form" in story.yaml and not story.yaml.endswith("\n\n")
    assert [f.name for f in flows_for_intent(demo_copy, "opening_hours") if f.kind == "rule"] == ["opening hours"]


def test_a_new_rule_is_appended_in_the_files_style_and_nothing_else_changes(demo_copy: Project):
    before = demo_copy.rules_file.read_text()
    save_flow(demo_copy, "rule", GIFT_RULE)
    after = demo_copy.rules_file.read_text()
    assert after.startswith(before.rstrip("\n") + "\n")
    assert after[len(before.rstrip("\n")) + 1:] == "\n" + GIFT_RULE
    assert any(f.name == "refund question twice" for f in flows_for_intent(demo_copy, "refund_status"))


def test_replacing_a_rule_changes_only_its_lines(demo_copy: Project):
    before = demo_copy.rules_file.read_text()
    edited = "- rule: opening hours\n  steps:\n  - intent: opening_hours\n  - action: utter_opening_hours\n" \
             "  - action: action_listen\n"
    save_flow(demo_copy, "rule", edited, replaces="opening hours")
    expected = before.replace("  - intent: opening_hours\n  - action: utter_opening_hours\n",
                              "  - intent: opening_hours\n  - action: utter_opening_hours\n  - action: action_listen\n")
    assert demo_copy.rules_file.read_text() == expected


def test_renaming_and_removing_a_story(demo_copy: Project):
    stories = demo_copy.data_dir / "stories.yml"
    before = stories.read_text()
    original = next(f for f in flows_for_intent(demo_copy, "shipping_cost") if f.name == "shipping questions in a row")
    save_flow(demo_copy, "story", original.yaml.replace("shipping questions in a row", "two shipping questions"),
              replaces="shipping questions in a row")
    assert stories.read_text() == before.replace("- story: shipping questions in a row", "- story: two shipping questions")
    remove_flow(demo_copy, "story", "two shipping questions")
    after = stories.read_text()
    assert "two shipping questions" not in after and "\n\n\n" not in after
    data = YAML(typ="safe").load(after)
    assert len(data["stories"]) == len(YAML(typ="safe").load(before)["stories"]) - 1


@pytest.mark.parametrize("text, error", [
    ("- rule: x\n  steps:\n  - intent: gift_cards\n  - action: utter_greet\n", "no intent 'gift_cards'"),
    ("- rule: x\n  steps:\n  - intent: greet\n  - action: utter_nothing\n", "no action or response 'utter_nothing'"),
    ("- rule: x\n  steps: []\n", "at least one step"),
    ("- rule: x\n  steps:\n  - intnet: greet\n", "unknown key 'intnet'"),
    ("- rule: greet\n  steps:\n  - intent: greet\n  - action: utter_greet\n", "a rule called 'greet' already"),
    ("- rule: [unclosed\n", "not valid YAML"),
    ("just text", "write one rule"),
])
def test_a_bad_rule_is_refused_with_the_reason_and_the_file_is_untouched(demo_copy: Project, text, error):
    before = demo_copy.rules_file.read_text()
    with pytest.raises(AnnotationError, match=error):
        save_flow(demo_copy, "rule", text)
    assert demo_copy.rules_file.read_text() == before


def test_an_example_is_edited_and_removed_on_its_own_line(demo_copy: Project):
    before = demo_copy.nlu_file.read_text()
    replace_example(demo_copy, "greet", "morning!", "good morning to you")
    assert demo_copy.nlu_file.read_text() == before.replace("    - morning!\n", "    - good morning to you\n")
    replace_example(demo_copy, "greet", "good morning to you", None)
    assert demo_copy.nlu_file.read_text() == before.replace("    - morning!\n", "")
    assert "morning!" not in intent_examples(demo_copy)["greet"]
    with pytest.raises(AnnotationError, match="no example"):
        replace_example(demo_copy, "greet", "not an example", None)
    with pytest.raises(AnnotationError, match="already"):
        replace_example(demo_copy, "greet", intent_examples(demo_copy)["greet"][0],
                        intent_examples(demo_copy)["greet"][1])


def test_removing_the_last_rule_leaves_the_file_as_before_it_was_added(demo_copy: Project):
    before = demo_copy.rules_file.read_text()
    save_flow(demo_copy, "rule", GIFT_RULE)
    remove_flow(demo_copy, "rule", "refund question twice")
    assert demo_copy.rules_file.read_text() == before


def test_the_same_edits_from_the_command_line(demo_copy: Project, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from bot.settings import PROJECT_DIR
    from tests.training.conftest import project_env

    env = {**os.environ, **project_env(demo_copy, tmp_path / "models")}

    def bot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    nlu, rules = demo_copy.nlu_file.read_text(), demo_copy.rules_file.read_text()
    assert bot("examples", "greet", "--replace", "morning!", "good morning all").returncode == 0
    assert demo_copy.nlu_file.read_text() == nlu.replace("    - morning!\n", "    - good morning all\n")
    refused = bot("examples", "greet", "--remove", "not there")
    assert refused.returncode == 1 and "greet has no example 'not there'" in refused.stderr
    assert bot("flows", "add", "--kind", "rule", "--file", "-", stdin=GIFT_RULE).returncode == 0
    shown = bot("intents", "refund_status", "--json")
    assert "refund question twice" in [f["name"] for f in json.loads(shown.stdout)["flows"]]
    assert bot("flows", "remove", "--kind", "rule", "--name", "refund question twice").returncode == 0
    assert demo_copy.rules_file.read_text() == rules
