"""Intent-classification figures from predictions: pure functions, no model involved.

Vocabulary: a test label `oos` marks a message the bot must hand over. A prediction is
"handed over" when the model predicted the out-of-scope intent or fell back (confidence
under the threshold); otherwise the bot answered with the predicted intent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OOS = "oos"


@dataclass(frozen=True)
class Prediction:
    """What the classifier said about one message, before any threshold is applied."""

    label: str  # the true label (`oos` for must-hand-over)
    intent: str  # the top intent (never the fallback)
    confidence: float
    text: str = ""


@dataclass(frozen=True)
class IntentScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    examples: int
    in_scope_accuracy: float
    oos_recall: float | None  # None: the test set has no `oos` message
    wrong_answer_rate: float
    containment: float
    threshold: float
    accuracy: float
    macro_f1: float
    per_intent: dict[str, IntentScore]
    confusions: list[tuple[str, str, int]]  # (true, predicted, count), most frequent first

    def as_dict(self) -> dict:
        return {
            "examples": self.examples, "in_scope_accuracy": self.in_scope_accuracy, "oos_recall": self.oos_recall,
            "wrong_answer_rate": self.wrong_answer_rate, "containment": self.containment,
            "threshold": self.threshold, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
            "per_intent": {k: vars(v) for k, v in self.per_intent.items()},
            "confusions": [{"true": t, "predicted": p, "count": c} for t, p, c in self.confusions],
        }


def decide(prediction: Prediction, threshold: float, oos_intent: str) -> str:
    """The label the bot acted on: the intent it answered with, or `oos` for a hand-over."""
    if prediction.intent == oos_intent or prediction.confidence < threshold:
        return OOS
    return prediction.intent


def report(predictions: Sequence[Prediction], threshold: float, oos_intent: str = "out_of_scope") -> Report:
    pairs = [(p.label, decide(p, threshold, oos_intent)) for p in predictions]
    total = len(pairs)
    in_scope = [(t, d) for t, d in pairs if t != OOS]
    out_scope = [(t, d) for t, d in pairs if t == OOS]
    answered = [(t, d) for t, d in pairs if d != OOS]
    labels = sorted({t for t, _ in pairs} | {d for _, d in pairs})
    scores = {label: _score(pairs, label) for label in labels}
    supported = [s for s in scores.values() if s.support]
    confusions = Counter((t, d) for t, d in pairs if t != d)
    return Report(
        examples=total,
        in_scope_accuracy=_ratio(sum(t == d for t, d in in_scope), len(in_scope)),
        oos_recall=_ratio(sum(d == OOS for _, d in out_scope), len(out_scope)) if out_scope else None,
        wrong_answer_rate=_ratio(sum(t != d for t, d in answered), total),
        containment=_ratio(len(answered), total),
        threshold=threshold,
        accuracy=_ratio(sum(t == d for t, d in pairs), total),
        macro_f1=_ratio(sum(s.f1 for s in supported), len(supported)),
        per_intent=scores,
        confusions=sorted(((t, d, n) for (t, d), n in confusions.items()), key=lambda c: (-c[2], c[0], c[1])),
    )


def choose_threshold(predictions: Sequence[Prediction], target_wrong_rate: float,
                     oos_intent: str = "out_of_scope") -> float:
    """The lowest threshold (most answers) whose wrong-answer rate is at most the target.

    Only the confidences that occur can change a decision, so those are the candidates;
    a threshold above every confidence hands everything over and answers nothing wrong."""
    candidates = sorted({0.0, *(p.confidence for p in predictions)})
    for threshold in candidates:
        if wrong_answer_rate(predictions, threshold, oos_intent) <= target_wrong_rate:
            return threshold
    return _just_above(max(candidates))


def wrong_answer_rate(predictions: Sequence[Prediction], threshold: float, oos_intent: str = "out_of_scope") -> float:
    wrong = sum(1 for p in predictions if (d := decide(p, threshold, oos_intent)) != OOS and d != p.label)
    return _ratio(wrong, len(predictions))


def _just_above(value: float) -> float:
    return round(value + 1e-6, 6)


def _score(pairs: Iterable[tuple[str, str]], label: str) -> IntentScore:
    pairs = list(pairs)
    true_positive = sum(t == label and d == label for t, d in pairs)
    predicted = sum(d == label for _, d in pairs)
    actual = sum(t == label for t, _ in pairs)
    precision, recall = _ratio(true_positive, predicted), _ratio(true_positive, actual)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return IntentScore(round(precision, 6), round(recall, 6), round(f1, 6), actual)


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0
