"""Training the dialogue model, outside the serving process so answers stay fast."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_DIR

TRAINING_INPUTS = ("config.yml", "domain.yml", "data")


class TrainingFailed(RuntimeError):
    pass


def fingerprint(project_dir: Path = PROJECT_DIR) -> str:
    """A hash of everything the model is trained from: same hash, same model."""
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = project_dir / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(project_dir)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def rasa_environment() -> dict[str, str]:
    # No telemetry and no update checks: the service must work without the internet.
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def train(out_dir: Path, name: str, project_dir: Path = PROJECT_DIR, quiet: bool = False) -> Path:
    """Train config.yml on data/ into out_dir/name.tar.gz, showing Rasa's progress bars."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rasa", "train", "--config", str(project_dir / "config.yml"),
        "--domain", str(project_dir / "domain.yml"), "--data", str(project_dir / "data"),
        "--out", str(out_dir), "--fixed-model-name", name,
    ]
    result = subprocess.run(command, cwd=project_dir, env=rasa_environment(),
                            stdout=subprocess.DEVNULL if quiet else None,
                            stderr=subprocess.PIPE if quiet else None, text=True)
    model = out_dir / f"{name}.tar.gz"
    if result.returncode != 0 or not model.exists():
        detail = (result.stderr or "")[-2000:] if quiet else "see the output above"
        raise TrainingFailed(f"rasa train failed with exit code {result.returncode}: {detail}")
    return model
