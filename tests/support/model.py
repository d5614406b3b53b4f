"""Trained models for the tests, trained once per content hash and cached across runs and
workers: the demo model, and any small test project's (the tiny one trains in seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

from filelock import FileLock

from bot.settings import PROJECT_DIR
from bot.training import Project, fingerprint, train
from bot.training.registry import ModelVersion, Registry

CACHE_DIR = PROJECT_DIR / ".cache" / "models"


def cached_model(project: Project | None = None, label: str = "demo") -> Path:
    project = project or Project.at(PROJECT_DIR)
    name = f"{label}-{fingerprint(project)}"
    model = CACHE_DIR / f"{name}.tar.gz"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers wait for the one that trains.
    with FileLock(str(CACHE_DIR / ".train.lock")):
        if not model.exists():
            train(CACHE_DIR, name, project, quiet=True)
    return model


def first_model(project: Project, models_dir: Path, label: str) -> ModelVersion:
    """What `bot train` leaves on a fresh install: the project's model registered with a
    snapshot of its data, active, and measured by no gate; from the cache, not trained again."""
    registry = Registry(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    copy = models_dir / f"{label}-{fingerprint(project)}.tar.gz"
    # The registry moves the file it registers: it gets a copy, the cache keeps its own.
    shutil.copy2(cached_model(project, label), copy)
    entry = registry.add(copy, fingerprint(project), project)
    return registry.activate(entry.version)
