"""The gate a new model passes before it may answer customers.

Two checks, each against the active model:
- NLU: the project's pipeline is trained on a seeded, stratified 80% of the NLU examples
  and scored on the other 20%; refused when the macro F1 falls more than the tolerance
  (over the intents both models know, when the new model adds intents).
  The active model's figure comes from the same procedure on the data it was trained
  from (its snapshot), computed once and kept in the registry.
- Stories: the test stories (tests/test_stories.yml, Rasa's convention) run against both
  full models; refused when one the active model passes now fails.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.training import metrics
from bot.training.nlu import Progress, extras, quiet_rasa, fallback_threshold, predict, read_examples, split, train_nlu
from bot.training.project import Project

HOLDOUT = 0.2


@dataclass(frozen=True)
class Decision:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    # (intent, F1 before, F1 after) for every intent that got worse by more than the tolerance
    drops: list[tuple[str, float, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": self.reasons,
                "drops": [{"intent": i, "before": b, "after": a} for i, b, a in self.drops]}


def nlu_figures(project: Project, progress: Progress | None = None) -> dict[str, Any]:
    """Held-out NLU figures of the project's pipeline on its own data."""
    examples = read_examples(project.data_dir)
    kept, held = split(examples, HOLDOUT)
    with tempfile.TemporaryDirectory(prefix="gate-") as workdir:
        model = train_nlu(kept, project.config_file, Path(workdir), "gate", extras(project))
        predictions = predict(model, held, progress)
    report = metrics.report(predictions, fallback_threshold(project.config_file))
    return {"trained_on": len(kept), "held_out": len(held), **report.as_dict()}


def story_figures(model: Path, stories: Path) -> dict[str, Any] | None:
    """Which test stories the full model follows; None when the project has none."""
    if not stories.exists():
        return None
    import asyncio

    return asyncio.run(_stories(model, stories))


async def _stories(model: Path, stories: Path) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.core.test import test
    from ruamel.yaml import YAML

    quiet_rasa()
    agent = Agent.load(model)
    with tempfile.TemporaryDirectory(prefix="gate-stories-") as out:
        result = await test(str(stories), agent, out_directory=out, disable_plotting=True)
        failed_file = Path(out) / "failed_test_stories.yml"
        failed_data = YAML(typ="safe").load(failed_file.read_text()) if failed_file.exists() else None
    names = YAML(typ="safe").load(stories.read_text()) or {}
    total = len(names.get("stories") or [])
    failed = sorted({str(s.get("story", "")).split(" (")[0] for s in (failed_data or {}).get("stories") or []})
    conversation = (result.get("report") or {}).get("conversation_accuracy") or {}
    return {"total": conversation.get("total", total), "failed": failed}


def compare(candidate: dict[str, Any], baseline: dict[str, Any] | None, tolerance: float) -> Decision:
    if baseline is None or not baseline.get("nlu"):
        return Decision(True, ["no active model to compare with"])
    reasons, drops = [], []
    before, after = baseline["nlu"], candidate["nlu"]
    shared = shared_intents(before, after)
    if shared and set(shared) != set(_supported(after)):
        # A new intent scores only on the new model's side, often low while it has few
        # examples: the regression check compares the intents both models know, and the
        # new ones are reported on their own.
        was, now = _macro_f1(before, shared), _macro_f1(after, shared)
        if now < was - tolerance:
            reasons.append(f"held-out macro F1 over the {len(shared)} intents both models know fell from "
                           f"{was:.3f} to {now:.3f} (tolerance {tolerance:.3f})")
    elif after["macro_f1"] < before["macro_f1"] - tolerance:
        reasons.append(f"held-out macro F1 fell from {before['macro_f1']:.3f} to {after['macro_f1']:.3f} "
                       f"(tolerance {tolerance:.3f})")
    for intent, score in sorted(before.get("per_intent", {}).items()):
        new = after.get("per_intent", {}).get(intent)
        if new is not None and score.get("support") and new["f1"] < score["f1"] - tolerance:
            drops.append((intent, score["f1"], new["f1"]))
    old_stories, new_stories = baseline.get("stories"), candidate.get("stories")
    if old_stories is not None and new_stories is not None:
        broken = sorted(set(new_stories["failed"]) - set(old_stories["failed"]))
        if broken:
            reasons.append(f"test stories the active model passes now fail: {', '.join(broken)}")
    return Decision(not reasons, reasons or ["no regression beyond the tolerance"], drops)


def _supported(nlu: dict[str, Any]) -> list[str]:
    return [intent for intent, score in (nlu.get("per_intent") or {}).items() if score.get("support")]


def shared_intents(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Intents with held-out examples under both models."""
    return sorted(set(_supported(before)) & set(_supported(after)))


def new_intents(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(set(_supported(after)) - set(_supported(before)))


def _macro_f1(nlu: dict[str, Any], intents: list[str]) -> float:
    return sum(nlu["per_intent"][i]["f1"] for i in intents) / len(intents)


SHARES = (("in_scope_accuracy", "in-scope answered right"), ("wrong_answer_rate", "answered wrong (of all)"),
          ("oos_recall", "out-of-scope handed over"))


def _share(value: float | None) -> str:
    return "n/a (none held out)" if value is None else f"{value:.1%}"


def readable(candidate: dict[str, Any], baseline: dict[str, Any] | None, decision: Decision) -> str:
    """The gate report as a trainer reads it."""
    nlu = candidate["nlu"]
    lines = [f"Gate: {'PASSED' if decision.passed else 'REFUSED'}"]
    lines += [f"  - {reason}" for reason in decision.reasons]
    old = (baseline or {}).get("nlu")
    lines += _figure_lines(nlu, old)
    if old and (added := new_intents(old, nlu)):
        lines.append("New intents (not part of the comparison):")
        lines += [f"  {intent:<28} F1 {nlu['per_intent'][intent]['f1']:.3f}" for intent in added]
    if decision.drops:
        lines.append("Intents whose F1 dropped:")
        lines += [f"  {intent:<28} {b:.3f} -> {a:.3f}" for intent, b, a in decision.drops]
    lines += _confusion_lines(nlu)
    stories = candidate.get("stories")
    if stories is not None:
        lines.append(f"Test stories: {stories['total'] - len(stories['failed'])}/{stories['total']} pass"
                     + (f"; failing: {', '.join(stories['failed'])}" if stories["failed"] else ""))
    return "\n".join(lines)


def _figure_lines(nlu: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    lines = [f"NLU on {nlu['held_out']} held-out examples (trained on {nlu['trained_on']}):"]
    for name in ("macro_f1", "accuracy"):
        was = f" (active: {old[name]:.3f})" if old else ""
        lines.append(f"  {name:<10} {nlu[name]:.3f}{was}")
    # What customers would meet: right answers, wrong ones, and what it knows it does not know.
    for name, label in SHARES:
        if name in nlu:
            was = f" (active: {_share(old.get(name))})" if old and name in old else ""
            lines.append(f"  {label:<25} {_share(nlu[name])}{was}")
    return lines


def _confusion_lines(nlu: dict[str, Any]) -> list[str]:
    if not nlu.get("confusions"):
        return []
    return ["Most frequent confusions (true -> predicted):",
            *(f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in nlu["confusions"][:5])]


def measured(nlu: dict[str, Any]) -> str:
    """The figures of a version measured on its own: nothing compared, nothing decided."""
    return "\n".join(["Measured (held-out figures only: no gate, nothing compared)", *_figure_lines(nlu, None), *_confusion_lines(nlu)])


def stored_report(gate: dict[str, Any] | None) -> str | None:
    """`readable` of a report as the registry keeps it; `measured` for a version that only
    has its figures (the first model, measured later); None for one never measured."""
    if not gate or not gate.get("nlu"):
        return None
    if not gate.get("decision"):
        return measured(gate["nlu"])
    d = gate["decision"]
    decision = Decision(bool(d.get("passed")), list(d.get("reasons") or []),
                        [(x["intent"], x["before"], x["after"]) for x in d.get("drops") or []])
    return readable(gate, gate.get("baseline"), decision)
