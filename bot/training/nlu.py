"""Labelled examples in and out of files, and NLU-only models trained and asked about them.

Used by the gate (held-out split of the project's own data) and by `bot eval` (a
labelled train and test set); rasa is imported here only inside the functions that need
it, and this module runs in the CLI's process, never in the serving one.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import logging
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bot.training.metrics import OOS, Prediction
from bot.training.project import Project
from bot.training.trainer import TrainingFailed

FALLBACK_INTENT = "nlu_fallback"
# `[482913](order_number)` or `[482913]{"entity": ...}` in an example is just `482913` to a customer.
_ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def plain_text(example: str) -> str:
    return _ENTITY_MARKUP.sub(r"\1", example)


def read_examples(path: Path) -> list[Example]:
    """A Rasa NLU YAML file (or a data directory of them) or a CSV of `text,label`."""
    if path.is_dir():
        return [e for file in sorted(path.rglob("*.y*ml")) for e in read_examples(file)]
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["text", "label"]:
            rows = rows[1:]
        return [Example(row[0].strip(), row[1].strip()) for row in rows if len(row) >= 2 and row[0].strip()]
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    examples = []
    for item in data.get("nlu") or []:
        if isinstance(item, dict) and "intent" in item:
            for line in str(item.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    examples.append(Example(line.strip()[2:].strip(), str(item["intent"])))
    return examples


def extras(project: Project) -> list[dict[str, Any]]:
    """The project's regexes, synonyms and lookup tables: part of every NLU training set."""
    found = []
    for path in project.data_files():
        if path.suffix in (".yml", ".yaml"):
            data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
            found += [i for i in data.get("nlu") or [] if isinstance(i, dict) and "intent" not in i]
    return found


def split(examples: Sequence[Example], fraction: float, seed: str = "gate") -> tuple[list[Example], list[Example]]:
    """Stratified and reproducible: per label, the `fraction` of examples with the lowest
    seeded hash is held out, so an example stays on its side as others are added."""
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    kept, held = [], []
    for members in by_label.values():
        ranked = sorted(members, key=lambda e: hashlib.sha256(f"{seed}:{e.text}".encode()).hexdigest())
        cut = int(len(ranked) * fraction)
        held += ranked[:cut]
        kept += ranked[cut:]
    return kept, held


def write_nlu(path: Path, examples: Iterable[Example], extra: Sequence[dict[str, Any]] = ()) -> Path:
    by_label: dict[str, list[str]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example.text)
    lines = ['version: "3.1"', "nlu:"]
    for label, texts in by_label.items():
        lines += [f"- intent: {label}", "  examples: |", *(f"    - {t}" for t in texts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(lines) + "\n"
    if extra:
        yaml = YAML()
        yaml.default_flow_style = False
        out = StringIO()
        yaml.dump(list(extra), out)
        body += "".join(f"{line}\n" for line in out.getvalue().splitlines())
    path.write_text(body, encoding="utf-8")
    return path


def train_nlu(examples: Sequence[Example], config_file: Path, out_dir: Path, name: str,
              extra: Sequence[dict[str, Any]] = ()) -> Path:
    """An NLU-only model of `config_file`'s pipeline trained on `examples`, in this process
    (the CLI's: rasa is loaded once for training and classifying)."""
    from rasa.model_training import train_nlu as rasa_train_nlu

    quiet_rasa()
    with tempfile.TemporaryDirectory(prefix="nlu-train-") as workdir:
        data = write_nlu(Path(workdir) / "nlu.yml", examples, extra)
        # Rasa prints its "model is trained" banner on stdout, which is for `--json` here.
        with contextlib.redirect_stdout(sys.stderr):
            model = rasa_train_nlu(str(config_file), str(data), str(out_dir), fixed_model_name=name)
    if not model or not Path(model).exists():
        raise TrainingFailed(f"training the NLU pipeline of {config_file} failed; see the messages above")
    return Path(model)


def quiet_rasa() -> None:
    """Rasa's debug logs print every parse; warnings are enough here."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    for name in ("rasa", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.WARNING)


def fallback_threshold(config_file: Path) -> float:
    """The FallbackClassifier's threshold in the pipeline (0 when there is none)."""
    config = YAML(typ="safe").load(config_file.read_text(encoding="utf-8")) or {}
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return 0.0


def predict(model: Path, examples: Sequence[Example], progress: Progress | None = None,
            oos_intent: str = "out_of_scope") -> list[Prediction]:
    """The model's top intent (the fallback undone) and its confidence for every example."""
    return asyncio.run(_predict(model, examples, progress, oos_intent))


async def _predict(model: Path, examples: Sequence[Example], progress: Progress | None,
                   oos_intent: str) -> list[Prediction]:
    from rasa.core.agent import Agent

    quiet_rasa()
    agent = Agent.load(model)
    predictions = []
    for index, example in enumerate(examples, 1):
        parse = await agent.parse_message(plain_text(example.text))
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
        top = ranking[0] if ranking else (parse.get("intent") or {})
        label = OOS if example.label == oos_intent else example.label
        predictions.append(Prediction(label, str(top.get("name") or OOS), float(top.get("confidence") or 0.0),
                                      example.text))
        if progress is not None:
            progress(index, len(examples))
    return predictions
