#!/usr/bin/env python3
"""CLINC150's published data file into the train, validation and test CSVs of `bot eval`.

    python scripts/clinc150_to_csv.py data_full.json OUT_DIR [--without-oos-train]

CLINC150 (Larson et al., 2019) is not shipped with this project; bring your own copy of
`data_full.json` (or data_small / data_imbalanced / data_oos_plus, which have the same
keys). Its keys train, val, test and oos_train, oos_val, oos_test each hold a list of
[text, label] pairs; the out-of-scope ones are labelled `oos`, which is also what `bot
eval` reads as "must be handed over". Writes OUT_DIR/train.csv (train + oos_train),
validation.csv (val + oos_val) and test.csv (test + oos_test), each `text,label`.
`--without-oos-train` leaves oos_train out, so out-of-scope messages are caught by the
threshold alone (the paper's "oos-threshold" setting). Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

SPLITS = {"train": ("train", "oos_train"), "validation": ("val", "oos_val"), "test": ("test", "oos_test")}


def rows(data: dict, keys: Sequence[str]) -> list[tuple[str, str]]:
    found = []
    for key in keys:
        if key not in data:
            raise ValueError(f"no {key!r} in the file: is it CLINC150's data_*.json?")
        for pair in data[key]:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise ValueError(f"{key}: expected [text, label] pairs, got {pair!r}")
            text, label = pair[0].strip(), pair[1].strip()
            if text:
                found.append((text, label))
    return found


def convert(source: Path, out_dir: Path, oos_train: bool = True) -> dict[str, int]:
    """Writes the three CSVs; returns how many rows each got."""
    data = json.loads(source.read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, keys in SPLITS.items():
        if name == "train" and not oos_train:
            keys = keys[:1]
        written = rows(data, keys)
        with (out_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(written)
        counts[name] = len(written)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="CLINC150's data_full.json (or another data_*.json)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--without-oos-train", action="store_true", help="no oos examples in train.csv")
    args = parser.parse_args(argv)
    try:
        counts = convert(args.source, args.out_dir, oos_train=not args.without_oos_train)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{args.out_dir / (name + '.csv')}: {count} examples")
    print(f"measure: python -m bot eval --train {args.out_dir}/train.csv --test {args.out_dir}/test.csv "
          f"--validation {args.out_dir}/validation.csv --choose-threshold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
