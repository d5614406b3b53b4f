"""`bot train`, step by step: validate, train, register, gate, and maybe activate.

The console's trainer pages call `train_and_gate` and `measure` too; `on_step`,
`on_output` and `on_progress` carry the progress to wherever it is shown.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.training import gate
from bot.training.nlu import Progress
from bot.training.project import Project, fingerprint
from bot.training.registry import ModelVersion, Registry, RegistryError, version_name
from bot.training.trainer import OutputCallback, train, validate

logger = logging.getLogger(__name__)
Step = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    version: ModelVersion
    decision: gate.Decision | None  # None: the first model, activated without a gate
    report: str


def measure(registry: Registry, version: str, on_step: Step = logger.info,
            on_progress: Progress | None = None) -> ModelVersion:
    """The gate's held-out NLU figures of a version, from the data it was trained from (its
    snapshot), kept in the registry: the first model has none until measured, and the next
    training compares itself with them."""
    entry, snapshot = measurable(registry, version)
    on_step(f"measuring {version}: NLU on a held-out 20% of its examples")
    figures = gate.nlu_figures(snapshot, on_progress)
    return registry.record_gate(version, {**(entry.gate or {}), "nlu": figures})


def measurable(registry: Registry, version: str) -> tuple[ModelVersion, Project]:
    """The version and its snapshot, or a RegistryError that says why it cannot be measured
    (asked before a measurement starts, so the console can answer at once)."""
    entry = registry.get(version)
    if (entry.gate or {}).get("nlu"):
        raise RegistryError(f"{version} has its figures already")
    snapshot = registry.snapshot(version)
    if not snapshot.config_file.exists():
        raise RegistryError(f"{version} has no copy of the data it was trained from "
                            f"({registry.models_dir / 'snapshots' / version}): it cannot be measured")
    return entry, snapshot


def train_and_gate(project: Project, models_dir: Path, tolerance: float, *, activate: bool = False,
                   measure_first: bool = False, on_step: Step = logger.info, on_output: OutputCallback | None = None,
                   quiet: bool = False) -> Outcome:
    """`measure_first`: the first model, which no gate measures, is measured too (a second,
    NLU-only training), so the page shows its figures and the next model is compared at once."""
    registry = Registry(models_dir)
    on_step("validating the training data")
    validate(project)
    print_ = fingerprint(project)
    name = version_name(print_)
    on_step(f"training {name}")
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".train-", dir=models_dir) as workdir:
        # Trained aside and moved in when complete: the models directory never holds half a model.
        model = train(Path(workdir), name, project, quiet=quiet and on_output is None, on_output=on_output)
        entry = registry.add(model, print_, project)
    active = registry.active()
    if active is None:
        entry = registry.activate(entry.version)
        report = f"{entry.version} is the first model: active without a gate"
        if measure_first:
            entry = measure(registry, entry.version, on_step)
            report += "\n" + gate.measured(entry.gate["nlu"])
        return Outcome(entry, None, report)

    on_step("gate: NLU on a held-out 20% of the examples")
    candidate: dict[str, Any] = {"nlu": gate.nlu_figures(project)}
    baseline = dict(active.gate or {})
    if not baseline.get("nlu") and registry.snapshot(active.version).config_file.exists():
        on_step(f"gate: the same for the active model {active.version} (once)")
        baseline["nlu"] = measure(registry, active.version, on_step=logger.debug).gate["nlu"]
    if project.test_stories.exists():
        on_step("gate: test stories, new and active model")
        candidate["stories"] = gate.story_figures(registry.path_of(entry), project.test_stories)
        baseline["stories"] = gate.story_figures(registry.path_of(active), project.test_stories)
    decision = gate.compare(candidate, baseline if baseline.get("nlu") else None, tolerance)
    report = {**candidate, "compared_with": active.version, "baseline": baseline or None,
              "tolerance": tolerance, "decision": decision.as_dict()}
    entry = registry.record_gate(entry.version, report, passed=decision.passed)
    if decision.passed and activate:
        entry = registry.activate(entry.version)
    return Outcome(entry, decision, gate.readable(candidate, baseline or None, decision))
