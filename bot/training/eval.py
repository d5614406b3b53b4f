"""`bot eval`: how well a pipeline sorts customer messages, measured on a labelled test set.

The pipeline (config.yml unless told otherwise) is trained NLU-only on the train set, where
the label `oos` becomes the bot's out-of-scope intent; every test message is then
classified and the figures of bot/training/metrics.py computed. With `choose_threshold`
the fallback threshold is picked on a validation set (or a seeded 20% of the train set)
as the lowest one whose wrong-answer rate meets the target.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.training import metrics
from bot.training.nlu import Example, Progress, fallback_threshold, predict, read_examples, split, train_nlu

OOS_INTENT = "out_of_scope"


@dataclass(frozen=True)
class EvalRequest:
    train: Path
    test: Path
    config: Path
    validation: Path | None = None
    choose_threshold: bool = False
    target_wrong_rate: float = 0.05
    oos_intent: str = OOS_INTENT


def as_training(examples: list[Example], oos_intent: str) -> list[Example]:
    return [replace(e, label=oos_intent) if e.label == metrics.OOS else e for e in examples]


def evaluate(request: EvalRequest, *, progress: Progress | None = None) -> dict[str, Any]:
    train_set = as_training(read_examples(request.train), request.oos_intent)
    test_set = read_examples(request.test)
    if not train_set or not test_set:
        raise ValueError("the train and the test set both need labelled examples")
    validation_set: list[Example] = []
    if request.choose_threshold:
        if request.validation is not None:
            validation_set = read_examples(request.validation)
        else:
            train_set, validation_set = split(train_set, 0.2, seed="validation")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="eval-") as workdir:
        model = train_nlu(train_set, request.config, Path(workdir), "eval")
        trained = time.monotonic()
        predictions = predict(model, test_set, progress, request.oos_intent)
        validation = predict(model, validation_set, None, request.oos_intent) if validation_set else []
    finished = time.monotonic()
    if request.choose_threshold:
        threshold = metrics.choose_threshold(validation, request.target_wrong_rate, request.oos_intent)
    else:
        threshold = fallback_threshold(request.config)
    report = metrics.report(predictions, threshold, request.oos_intent)
    return {
        **report.as_dict(),
        "train_examples": len(train_set), "validation_examples": len(validation_set),
        "intents": len({e.label for e in train_set}),
        "train_seconds": round(trained - started, 1), "predict_seconds": round(finished - trained, 1),
        "config": str(request.config),
    }
