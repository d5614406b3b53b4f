"""The data sets of bench/eval_scale.py: the generated intent set (its shape, its seed, and
what the test set holds back from training, so its figures measure generalisation, not
recall), and HWU64's hold-out-intents protocol (what is unknown stays out of training)."""

from __future__ import annotations

import re

from collections import Counter

from bench.eval_scale import (FULL, OOS, OOS_THINGS, QUICK, Run, generate, hold_out_intents, intents, mean_run,
                               table)


def key(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def test_the_full_shape_is_clinc150s():
    data = generate(FULL, seed=1)
    assert [len(data[s]) for s in ("train", "validation", "test")] == [15_100, 3_667, 5_500]
    train_labels = [label for _, label in data["train"]]
    assert len(set(train_labels)) == 151
    assert all(train_labels.count(label) == 100 for label in set(train_labels))
    assert sum(label == OOS for _, label in data["test"]) == 1_000
    # No message is in two splits, nor twice in one.
    keys = [key(text) for split in data.values() for text, _ in split]
    assert len(keys) == len(set(keys))


def test_seeded():
    assert generate(QUICK, seed=3) == generate(QUICK, seed=3)
    assert generate(QUICK, seed=3)["train"] != generate(QUICK, seed=4)["train"]


def test_intents_share_their_words():
    names = [i.name for i in intents(seed=1)]
    assert len(names) == len(set(names)) == 150
    # Each domain's 3 things take 5 of the 7 actions: every action word serves several intents.
    actions = [name.rsplit("_", 1)[1] for name in names]
    assert len(set(actions)) == 7 and all(actions.count(a) >= 3 for a in set(actions))
    assert sum(n.startswith("credit_card_") for n in names) == 5


def test_the_test_set_has_phrasings_and_out_of_scope_topics_training_never_saw():
    data = generate(QUICK, seed=1)
    train_text = " ".join(text.lower() for text, _ in data["train"])
    test_oos = [text.lower() for text, label in data["test"] if label == OOS]
    in_test = {thing for thing in OOS_THINGS if any(thing in text for text in test_oos)}
    assert in_test and not any(thing in train_text for thing in in_test)
    assert "visa debit card" not in train_text and any(
        "visa debit card" in text.lower() for text, _ in data["test"] + data["validation"])


def labelled(labels: int, per_label: int, prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix} message {n} of intent {i}", f"intent_{i:02d}") for i in range(labels) for n in range(per_label)]


def test_hwu64_holds_whole_intents_out_of_training_and_asks_the_test_to_hand_them_over():
    train, test = labelled(40, 10, "train"), labelled(40, 3, "test")
    unknown, rows = hold_out_intents(train, test, seed=1)
    assert len(unknown) == 4  # 10% of the intents
    seen = {label for split in ("train", "validation") for _, label in rows[split]}
    assert not seen & set(unknown) and len(seen) == 36
    # 20% of each known intent's rows is validation, the rest training, none in both.
    assert Counter(label for _, label in rows["validation"]) == {label: 2 for label in seen}
    assert Counter(label for _, label in rows["train"]) == {label: 8 for label in seen}
    assert not {t for t, _ in rows["train"]} & {t for t, _ in rows["validation"]}
    # Every test message stays; those of unknown intents must be handed over.
    assert [t for t, _ in rows["test"]] == [t for t, _ in test]
    assert sum(label == OOS for _, label in rows["test"]) == 4 * 3
    assert all((label == OOS) == (original in unknown) for (_, label), (_, original) in zip(rows["test"], test))


def test_hwu64_hold_outs_are_seeded():
    train, test = labelled(40, 10, "train"), labelled(40, 3, "test")
    assert hold_out_intents(train, test, seed=2) == hold_out_intents(train, test, seed=2)
    assert len({tuple(hold_out_intents(train, test, seed=s)[0]) for s in range(1, 6)}) > 1


def test_several_data_sets_give_the_mean_and_the_spread():
    def run(accuracy: float, wrong: float) -> Run:
        figures = {"train_seconds": 10.0, "predict_seconds": 1.0, "in_scope_accuracy": accuracy, "oos_recall": 0.5,
                   "wrong_answer_rate": wrong, "containment": 0.8, "threshold": 0.4, "macro_f1": 0.9}
        return Run("logreg", figures, 12.0, 2.0)

    mean = mean_run([run(0.90, 0.06), run(0.94, 0.02)])
    assert round(mean.figures["in_scope_accuracy"], 9) == 0.92
    assert mean.spread["wrong_answer_rate"] == (0.02, 0.06)
    assert "| 92.0% (90.0%–94.0%) | 50.0% (50.0%–50.0%) | 4.0% (2.0%–6.0%) |" in table([mean])
