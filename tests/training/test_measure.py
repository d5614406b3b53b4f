"""Measuring a version no gate measured (the first model): the gate's held-out evaluation
of its snapshot, run from the console as a training run of kind `measure`, or asked of
`bot train --measure`; and the reasons a version cannot be measured."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from bot.bus import TRAINING_TOPIC, LocalBus
from bot.settings import PROJECT_DIR, Settings
from bot.storage import training as store
from bot.training.gate import measured, stored_report
from bot.training.pipeline import measurable, train_and_gate
from bot.training.project import Project
from bot.training.registry import Registry, RegistryError
from bot.training.runs import TrainingBusy, TrainingRunner
from tests.support.model import first_model
from tests.training.conftest import project_env

FIGURES = ("macro_f1", "in_scope_accuracy", "wrong_answer_rate", "oos_recall")


async def finished(notices, deadline_seconds: float = 300) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    while loop.time() < deadline:
        notice = await notices.get(timeout=5)
        if notice and notice.get("status"):
            return
    raise AssertionError("the run did not finish in time")


@pytest.mark.timeout(600)
async def test_a_measuring_run_records_the_figures_of_a_version_without_them(db, tiny_copy: Project, tmp_path):
    models = tmp_path / "models"
    version = first_model(tiny_copy, models, "tiny").version
    settings = Settings.from_mapping({**project_env(tiny_copy, models), "DATABASE_URL": db.url,
                                      "TRAINING_NICENESS": "0"})
    bus = LocalBus()
    runner = TrainingRunner(db, bus, settings)
    async with bus.subscribe(TRAINING_TOPIC) as notices:
        run_id = await runner.measure("tess", version)
        # One run at a time: neither a training nor another measurement starts meanwhile.
        for start in (runner.start("sam", activate=True), runner.measure("sam", version)):
            with pytest.raises(TrainingBusy) as busy:
                await start
            assert (busy.value.run_id, busy.value.kind) == (run_id, "measure")
        await finished(notices)
    await runner.close()

    async with db.session() as session:
        run = await store.get_run(session, run_id)
    assert (run.kind, run.status, run.version, run.running_slot) == ("measure", "measured", version, None), \
        (run.error, run.output[-2000:])
    assert [s["text"] for s in run.steps] == [f"measuring {version}: NLU on a held-out 20% of its examples"]
    entry = Registry(models).get(version)
    nlu = entry.gate["nlu"]
    assert all(isinstance(nlu[name], float) or nlu[name] is None for name in FIGURES), nlu
    assert nlu["held_out"] > 0 and run.progress_total == nlu["held_out"] == run.progress_done
    assert run.report == measured(nlu) == stored_report(entry.gate)
    assert entry.status == "active" and "decision" not in entry.gate  # measured, not gated


def test_what_cannot_be_measured_is_said_before_anything_runs(tiny_copy: Project, tmp_path):
    registry = Registry(tmp_path / "models")
    without_snapshot = tmp_path / "old.tar.gz"
    without_snapshot.write_bytes(b"a model registered before snapshots were kept")
    registry.add(without_snapshot, fingerprint="old")
    with pytest.raises(RegistryError, match="no model version 'nothing'"):
        measurable(registry, "nothing")
    with pytest.raises(RegistryError, match="has no copy of the data it was trained from .*cannot be measured"):
        measurable(registry, "old")
    snapshotted = tmp_path / "v1.tar.gz"
    snapshotted.write_bytes(b"a model")
    registry.add(snapshotted, fingerprint="v1", project=tiny_copy)
    assert measurable(registry, "v1")[1].config_file.exists()
    registry.record_gate("v1", {"nlu": {"macro_f1": 0.9}})
    with pytest.raises(RegistryError, match="v1 has its figures already"):
        measurable(registry, "v1")


def test_the_command_says_why_it_cannot_measure(tmp_path):
    registry = Registry(tmp_path / "models")
    old = tmp_path / "old.tar.gz"
    old.write_bytes(b"a model registered before snapshots were kept")
    registry.add(old, fingerprint="old")
    env = {**os.environ, "MODELS_DIR": str(registry.models_dir), "TRAINING_NICENESS": "0"}

    def measure(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "models", "measure", *args], cwd=PROJECT_DIR, env=env,
                              capture_output=True, text=True, timeout=60)

    asked = measure()
    assert asked.returncode == 2 and "which version?" in asked.stderr
    plain = measure("old")
    assert plain.returncode == 1 and "cannot be measured" in plain.stderr
    # As the console reads it: one JSON event a line.
    events = measure("old", "--events")
    assert events.returncode == 1
    error = json.loads(events.stdout.strip().splitlines()[-1])
    assert error["event"] == "error" and "old has no copy of the data it was trained from" in error["text"]


@pytest.mark.timeout(600)
def test_train_measure_gives_the_first_model_its_figures(tiny_copy: Project, tmp_path):
    steps: list[str] = []
    outcome = train_and_gate(tiny_copy, tmp_path / "models", tolerance=0.05, activate=True, measure_first=True,
                             on_step=steps.append, quiet=True)
    version = outcome.version
    assert outcome.decision is None and version.status == "active"
    assert steps[-1] == f"measuring {version.version}: NLU on a held-out 20% of its examples"
    assert outcome.report.startswith(f"{version.version} is the first model: active without a gate\nMeasured")
    assert Registry(tmp_path / "models").get(version.version).gate["nlu"]["held_out"] > 0
