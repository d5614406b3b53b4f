"""`bot eval` end to end on the hand-checked sample set (tests/fixtures/eval/).

The sample pipeline is deterministic (a logistic regression with a fixed seed). What it
predicts for the 12 test messages, and the figures that follow by hand:
- the 7 in-scope messages get their intent (lowest confidence: "good evening", 0.61);
- 4 of the 5 out-of-scope ones are classified out_of_scope; "open the pod bay doors"
  gets opening_hours at 0.357, over the pipeline's fallback threshold of 0.3.
So: in-scope accuracy 7/7, oos recall 4/5, wrong answers 1/12, containment 8/12;
opening_hours precision 2/3 (F1 0.8), oos recall 0.8 (F1 8/9).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.settings import PROJECT_DIR

SAMPLE = PROJECT_DIR / "tests" / "fixtures" / "eval"


def bot_eval(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "bot", "eval", "--config", str(SAMPLE / "config.yml"),
                             "--test", str(SAMPLE / "test.csv"), "--json", *args],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.timeout(900)
def test_figures_on_the_sample_set_from_csv():
    figures = bot_eval("--train", str(SAMPLE / "train.csv"))
    assert (figures["examples"], figures["train_examples"], figures["intents"]) == (12, 24, 4)
    assert figures["threshold"] == 0.3
    assert figures["in_scope_accuracy"] == 1.0
    assert figures["oos_recall"] == 0.8
    assert figures["wrong_answer_rate"] == 0.083333
    assert figures["containment"] == 0.666667
    assert figures["per_intent"]["opening_hours"] == {"precision": 0.666667, "recall": 1.0, "f1": 0.8, "support": 2}
    assert figures["per_intent"]["oos"] == {"precision": 1.0, "recall": 0.8, "f1": 0.888889, "support": 5}
    assert figures["per_intent"]["greet"]["f1"] == figures["per_intent"]["goodbye"]["f1"] == 1.0
    assert figures["macro_f1"] == 0.922222
    assert figures["confusions"] == [{"true": "oos", "predicted": "opening_hours", "count": 1}]


@pytest.mark.timeout(900)
def test_choosing_the_threshold_for_no_wrong_answers_from_yaml():
    # On this validation set the only wrong answer has confidence 0.357; the next
    # confidence up is "what time is it" (0.444, out_of_scope), the lowest safe threshold.
    figures = bot_eval("--train", str(SAMPLE / "train.yml"), "--validation", str(SAMPLE / "test.csv"),
                       "--choose-threshold", "--target-wrong-rate", "0")
    assert figures["threshold"] == pytest.approx(0.4437, abs=1e-3)
    assert figures["wrong_answer_rate"] == 0.0
    assert figures["oos_recall"] == 1.0
    assert figures["in_scope_accuracy"] == 1.0
    assert figures["containment"] == 0.583333  # the 7 in-scope messages of 12
