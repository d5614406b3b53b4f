"""The generated intent set of bench/eval_scale.py: its shape, its seed, and what the test
set holds back from training (so its figures measure generalisation, not recall)."""

from __future__ import annotations

import re

from bench.eval_scale import FULL, OOS, OOS_THINGS, QUICK, generate, intents


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
