"""The demo model, trained once per content hash and cached across runs and workers."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

from bot.settings import PROJECT_DIR
from bot.training import fingerprint, train

CACHE_DIR = PROJECT_DIR / ".cache" / "models"


def cached_model() -> Path:
    name = f"demo-{fingerprint()}"
    model = CACHE_DIR / f"{name}.tar.gz"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers wait for the one that trains.
    with FileLock(str(CACHE_DIR / ".train.lock")):
        if not model.exists():
            train(CACHE_DIR, name, quiet=True)
    return model
