"""Model versions: registered, activated, refused, rolled back; what the service serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.settings import PROJECT_DIR
from bot.training.registry import Registry, RegistryError, serving_model


def model_file(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.tar.gz"
    path.write_bytes(name.encode())
    return path


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(tmp_path / "models")


def test_activate_and_roll_back(registry: Registry, tmp_path):
    for name in ("v1", "v2", "v3"):
        registry.add(model_file(tmp_path / "trained", name), fingerprint=f"fp-{name}")
    assert [v.status for v in registry.versions()] == ["candidate"] * 3
    assert (registry.models_dir / "v1.tar.gz").exists() and not (tmp_path / "trained" / "v1.tar.gz").exists()

    registry.activate("v1")
    registry.activate("v2")
    registry.activate("v3")
    assert {v.version: v.status for v in registry.versions()} == {"v1": "retired", "v2": "retired", "v3": "active"}
    assert registry.active_path() == registry.models_dir / "v3.tar.gz"

    assert registry.rollback().version == "v2"
    assert registry.rollback().version == "v1"
    assert {v.version: v.status for v in registry.versions()} == {"v1": "active", "v2": "retired", "v3": "retired"}
    with pytest.raises(RegistryError, match="no earlier"):
        registry.rollback()


def test_a_refused_model_is_activated_only_by_force(registry: Registry, tmp_path):
    registry.add(model_file(tmp_path / "trained", "bad"), fingerprint="x")
    registry.record_gate("bad", {"decision": {"passed": False}}, passed=False)
    assert registry.get("bad").status == "refused"
    with pytest.raises(RegistryError, match="refused"):
        registry.activate("bad")
    assert registry.activate("bad", force=True).status == "active"
    with pytest.raises(RegistryError, match="no model version"):
        registry.activate("nope")


def test_the_service_serves_the_active_version_never_a_refused_one(registry: Registry, tmp_path):
    models = registry.models_dir
    assert serving_model(models) is None
    legacy = model_file(models, "trained-before-the-registry")
    assert serving_model(models) == legacy
    registry.add(model_file(tmp_path / "t", "refused"), fingerprint="r")
    registry.record_gate("refused", {}, passed=False)
    assert serving_model(models) == legacy
    registry.add(model_file(tmp_path / "t", "good"), fingerprint="g")
    registry.activate("good")
    assert serving_model(models) == models / "good.tar.gz"
    pinned = model_file(tmp_path / "elsewhere", "pinned")
    assert serving_model(models, pinned) == pinned


def test_concurrent_writers_lose_nothing(registry: Registry, tmp_path):
    files = [model_file(tmp_path / "t", f"v{i}") for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda f: registry.add(f, fingerprint=f.name), files))
    assert sorted(v.version for v in registry.versions()) == sorted(f"v{i}" for i in range(20))
    json.loads(registry.path.read_text())  # whole, valid JSON


def test_the_models_command(registry: Registry, tmp_path):
    registry.add(model_file(tmp_path / "t", "v1"), fingerprint="a")
    registry.add(model_file(tmp_path / "t", "v2"), fingerprint="b")
    from bot.storage.migrate import upgrade

    upgrade(f"sqlite:///{tmp_path / 'assistant.db'}")
    env = {**os.environ, "MODELS_DIR": str(registry.models_dir),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"}

    def bot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "models", *args], cwd=PROJECT_DIR, env=env,
                              capture_output=True, text=True, timeout=60)

    assert bot("activate", "v1").returncode == 0
    assert bot("activate", "v2").returncode == 0
    listed = json.loads(bot("list", "--json").stdout)
    assert {v["version"]: v["status"] for v in listed} == {"v1": "retired", "v2": "active"}
    rolled = bot("rollback")
    assert rolled.returncode == 0 and "v1 is active again" in rolled.stdout
    failed = bot("rollback")
    assert failed.returncode == 1 and "no earlier" in failed.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "assistant.db") as audit:
        trail = audit.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()
    assert trail == [("cli", "model_activated", "model:v1"), ("cli", "model_activated", "model:v2"),
                     ("cli", "model_rolled_back", "model:v1")]
