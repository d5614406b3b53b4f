"""The gate: a model that got worse is refused with a readable report and never served."""

from __future__ import annotations

import pytest

from bot.training import gate
from bot.training.pipeline import train_and_gate
from bot.training.project import Project
from bot.training.registry import Registry, serving_model
from tests.training.conftest import copy_project


def nlu(macro_f1: float, **per_intent: float) -> dict:
    return {"macro_f1": macro_f1, "accuracy": macro_f1, "held_out": 10, "trained_on": 40, "confusions": [],
            "per_intent": {name: {"precision": f1, "recall": f1, "f1": f1, "support": 2}
                           for name, f1 in per_intent.items()}}


def test_a_drop_beyond_the_tolerance_is_refused_and_named():
    before = {"nlu": nlu(0.90, greet=1.0, goodbye=0.8, hours=0.9)}
    after = {"nlu": nlu(0.80, greet=1.0, goodbye=0.5, hours=0.89)}
    decision = gate.compare(after, before, tolerance=0.05)
    assert not decision.passed
    assert decision.reasons == ["held-out macro F1 fell from 0.900 to 0.800 (tolerance 0.050)"]
    assert decision.drops == [("goodbye", 0.8, 0.5)]  # hours fell 0.01: within the tolerance
    text = gate.readable(after, before, decision)
    assert "Gate: REFUSED" in text and "goodbye" in text and "0.800 -> 0.500" in text


def test_the_report_says_what_customers_would_get_right_and_wrong():
    before = {"nlu": {**nlu(0.90), "in_scope_accuracy": 0.9, "wrong_answer_rate": 0.06, "oos_recall": None}}
    after = {"nlu": {**nlu(0.92), "in_scope_accuracy": 0.925, "wrong_answer_rate": 0.041, "oos_recall": 0.8}}
    text = gate.readable(after, before, gate.compare(after, before, tolerance=0.05))
    assert "in-scope answered right   92.5% (active: 90.0%)" in text
    assert "answered wrong (of all)   4.1% (active: 6.0%)" in text
    assert "out-of-scope handed over  80.0% (active: n/a (none held out))" in text


def test_within_the_tolerance_passes():
    assert gate.compare({"nlu": nlu(0.86)}, {"nlu": nlu(0.90)}, tolerance=0.05).passed
    assert gate.compare({"nlu": nlu(0.50)}, None, tolerance=0.05).reasons == ["no active model to compare with"]


def test_a_new_intent_is_reported_apart_and_does_not_count_against_the_model():
    before = {"nlu": nlu(0.90, greet=0.9, hours=0.9)}
    # The new intent, with few examples yet, drags the overall macro F1 down by 0.2.
    after = {"nlu": nlu(0.70, greet=0.9, hours=0.9, gift_cards=0.3)}
    decision = gate.compare(after, before, tolerance=0.05)
    assert decision.passed, decision.reasons
    text = gate.readable(after, before, decision)
    assert "New intents (not part of the comparison):" in text and "gift_cards" in text and "F1 0.300" in text


def test_with_a_new_intent_the_known_intents_still_gate():
    before = {"nlu": nlu(0.90, greet=0.9, hours=0.9)}
    after = {"nlu": nlu(0.60, greet=0.9, hours=0.5, gift_cards=0.4)}
    decision = gate.compare(after, before, tolerance=0.05)
    assert not decision.passed
    assert decision.reasons == ["held-out macro F1 over the 2 intents both models know fell from 0.900 to 0.700 "
                                "(tolerance 0.050)"]
    assert decision.drops == [("hours", 0.9, 0.5)]


def test_a_test_story_that_newly_fails_is_refused():
    before = {"nlu": nlu(0.9), "stories": {"total": 3, "failed": ["a"]}}
    after = {"nlu": nlu(0.9), "stories": {"total": 3, "failed": ["a", "returns"]}}
    decision = gate.compare(after, before, tolerance=0.05)
    assert not decision.passed
    assert decision.reasons == ["test stories the active model passes now fail: returns"]


@pytest.mark.timeout(900)
def test_a_deliberately_worse_model_is_refused(tiny_copy: Project, tmp_path):
    # The active model: the tiny project as it is (its baseline is computed from its
    # snapshot; the model file itself is not needed without test stories).
    registry = Registry(tmp_path / "models")
    fake = tmp_path / "v1.tar.gz"
    fake.write_bytes(b"the active model")
    registry.add(fake, fingerprint="v1", project=tiny_copy)
    registry.activate("v1")
    # The candidate: the same data, but a pipeline that only matches whole training
    # examples as keywords, so it misses most held-out phrasings.
    worse = copy_project(tiny_copy, tmp_path / "worse")
    config = worse.config_file.read_text()
    worse.config_file.write_text(config.replace("- name: LogisticRegressionClassifier",
                                                "- name: KeywordIntentClassifier"))

    outcome = train_and_gate(worse, registry.models_dir, tolerance=0.05, activate=True, quiet=True)

    assert not outcome.decision.passed
    assert outcome.version.status == "refused"
    assert "Gate: REFUSED" in outcome.report and "held-out macro F1 fell from" in outcome.report
    assert "Intents whose F1 dropped:" in outcome.report
    stored = registry.get(outcome.version.version).gate
    assert stored["decision"]["passed"] is False and stored["compared_with"] == "v1"
    assert stored["nlu"]["macro_f1"] < registry.get("v1").gate["nlu"]["macro_f1"] - 0.05
    assert registry.active().version == "v1"
    assert serving_model(registry.models_dir) == registry.models_dir / "v1.tar.gz"
