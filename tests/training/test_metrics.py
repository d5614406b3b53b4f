"""The eval figures on hand-made predictions, each figure worked out by hand below."""

from __future__ import annotations

import pytest

from bot.training.metrics import OOS, Prediction, choose_threshold, report

# threshold 0.5: what the bot did with each message is in the comment.
PREDICTIONS = [
    Prediction("greet", "greet", 0.9),  # answered greet: right
    Prediction("greet", "goodbye", 0.8),  # answered goodbye: wrong answer
    Prediction("greet", "greet", 0.3),  # under the threshold: handed over (an in-scope miss)
    Prediction("hours", "hours", 0.7),  # right
    Prediction(OOS, "out_of_scope", 0.9),  # handed over: right
    Prediction(OOS, "hours", 0.6),  # answered an out-of-scope message: wrong answer
    Prediction(OOS, "greet", 0.2),  # under the threshold: handed over, right
    Prediction("goodbye", "goodbye", 0.95),  # right
]


def test_headline_figures():
    figures = report(PREDICTIONS, threshold=0.5)
    assert figures.examples == 8
    assert figures.in_scope_accuracy == 0.6  # 3 of the 5 in-scope messages
    assert figures.oos_recall == 0.666667  # 2 of the 3 out-of-scope ones handed over
    assert figures.wrong_answer_rate == 0.25  # 2 wrong answers among all 8
    assert figures.containment == 0.625  # 5 of 8 answered by the bot
    assert figures.accuracy == 0.625
    assert figures.threshold == 0.5


def test_per_intent_scores_and_confusions():
    figures = report(PREDICTIONS, threshold=0.5)
    scores = {name: (s.precision, s.recall, s.f1, s.support) for name, s in figures.per_intent.items()}
    assert scores == {
        "greet": (1.0, 0.333333, 0.5, 3),
        "goodbye": (0.5, 1.0, 0.666667, 1),
        "hours": (0.5, 1.0, 0.666667, 1),
        OOS: (0.666667, 0.666667, 0.666667, 3),
    }
    assert figures.macro_f1 == 0.625
    assert figures.confusions == [("greet", "goodbye", 1), ("greet", OOS, 1), (OOS, "hours", 1)]


def test_no_out_of_scope_messages_means_no_recall_figure():
    figures = report([Prediction("greet", "greet", 0.9)], threshold=0.5)
    assert figures.oos_recall is None
    assert figures.in_scope_accuracy == 1.0 and figures.containment == 1.0


@pytest.mark.parametrize(("target", "expected"), [(0.125, 0.7), (0.0, 0.9), (0.5, 0.0), (0.25, 0.3)])
def test_threshold_is_the_lowest_meeting_the_target(target, expected):
    # Wrong answers by threshold: 0 → 3/8, 0.3 → 2/8, 0.7 → 1/8, 0.9 → 0.
    assert choose_threshold(PREDICTIONS, target) == expected
    assert report(PREDICTIONS, expected).wrong_answer_rate <= target


def test_an_unreachable_target_hands_everything_over():
    always_wrong = [Prediction("greet", "goodbye", 0.8)]
    threshold = choose_threshold(always_wrong, 0.0)
    assert threshold > 0.8
    assert report(always_wrong, threshold).containment == 0.0
