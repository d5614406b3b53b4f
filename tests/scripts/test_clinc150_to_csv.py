"""scripts/clinc150_to_csv.py on a file of CLINC150's layout: what `bot eval` then reads."""

from __future__ import annotations

import json
import subprocess
import sys

from bot.settings import PROJECT_DIR
from bot.training.nlu import Example, read_examples

SCRIPT = PROJECT_DIR / "scripts" / "clinc150_to_csv.py"
CLINC_LIKE = {
    "train": [["what is my balance", "balance"], ["freeze my card, it was stolen", "freeze_account"]],
    "val": [["how much money do i have", "balance"]],
    "test": [["balance please", "balance"], ["i lost my card, block it", "freeze_account"]],
    "oos_train": [["what's the capital of peru", "oos"]],
    "oos_val": [["sing me a song", "oos"]],
    "oos_test": [["how tall is everest", "oos"], ["who won, the game \"last night\"?", "oos"]],
}


def convert(tmp_path, *args: str) -> subprocess.CompletedProcess:
    source = tmp_path / "data_full.json"
    source.write_text(json.dumps(CLINC_LIKE))
    return subprocess.run([sys.executable, str(SCRIPT), str(source), str(tmp_path / "out"), *args],
                          capture_output=True, text=True, timeout=60)


def test_splits_with_their_out_of_scope_messages(tmp_path):
    result = convert(tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert read_examples(out / "train.csv") == [
        Example("what is my balance", "balance"), Example("freeze my card, it was stolen", "freeze_account"),
        Example("what's the capital of peru", "oos")]
    assert read_examples(out / "validation.csv") == [Example("how much money do i have", "balance"),
                                                     Example("sing me a song", "oos")]
    # Commas and quotes in a message survive the CSV round trip.
    assert read_examples(out / "test.csv")[-1] == Example('who won, the game "last night"?', "oos")
    assert len(read_examples(out / "test.csv")) == 4


def test_without_oos_train(tmp_path):
    assert convert(tmp_path, "--without-oos-train").returncode == 0
    assert {e.label for e in read_examples(tmp_path / "out" / "train.csv")} == {"balance", "freeze_account"}
    assert len(read_examples(tmp_path / "out" / "test.csv")) == 4


def test_a_file_of_another_layout_is_refused(tmp_path):
    source = tmp_path / "other.json"
    source.write_text(json.dumps({"train": [["text only"]]}))
    result = subprocess.run([sys.executable, str(SCRIPT), str(source), str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "[text, label]" in result.stderr
