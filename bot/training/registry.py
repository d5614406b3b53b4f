"""The model registry: every trained version, its data fingerprint and gate report, and
which one the service answers with.

One JSON file beside the models (models/registry.json), rewritten whole under a file lock
and renamed into place, so concurrent trainers never lose each other's entries and the
service, which only reads it, never sees half a file. Each version keeps a copy of the
data it was trained from (models/snapshots/<version>/), small, so the gate can rebuild
the active model's baseline and a trainer can see what changed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from bot.messages import utcnow
from bot.training.project import Project

REGISTRY_FILE = "registry.json"
STATUSES = ("candidate", "active", "refused", "retired")


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class ModelVersion:
    version: str
    file: str  # the model's file name in the models directory
    fingerprint: str
    created_at: str
    status: str = "candidate"
    gate: dict[str, Any] | None = None
    activated_at: str | None = None
    # A version the gate refused and someone activated anyway: {"by", "reason", "at"}.
    forced: dict[str, Any] | None = None


def version_name(fingerprint: str, now: datetime | None = None) -> str:
    return f"model-{(now or utcnow()):%Y%m%d-%H%M%S}-{fingerprint[:8]}"


class Registry:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self.path = models_dir / REGISTRY_FILE
        self._lock = FileLock(str(models_dir / f".{REGISTRY_FILE}.lock"), timeout=60)

    # --- reading (no lock: the file is replaced atomically) ---------------------------
    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"versions": [], "history": []}

    def versions(self) -> list[ModelVersion]:
        return [ModelVersion(**v) for v in self._read()["versions"]]

    def get(self, version: str) -> ModelVersion:
        for entry in self.versions():
            if entry.version == version:
                return entry
        raise RegistryError(f"no model version {version!r}; see `python -m bot models list`")

    def active(self) -> ModelVersion | None:
        return next((v for v in self.versions() if v.status == "active"), None)

    def previous_active(self) -> str | None:
        """The version `rollback` would return to, if any."""
        state = self._read()
        names = {v["version"] for v in state.get("versions", [])}
        return next((v for v in reversed(state.get("history", [])[:-1]) if v in names), None)

    def path_of(self, entry: ModelVersion) -> Path:
        return self.models_dir / entry.file

    def active_path(self) -> Path | None:
        entry = self.active()
        return self.path_of(entry) if entry is not None else None

    def snapshot(self, version: str) -> Project:
        return Project.at(self.models_dir / "snapshots" / version)

    # --- writing ----------------------------------------------------------------------
    def _write(self, state: dict[str, Any]) -> None:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{REGISTRY_FILE}.tmp")
        temporary.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n")
        temporary.replace(self.path)

    def _update(self, change) -> Any:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            state = self._read()
            versions = [ModelVersion(**v) for v in state["versions"]]
            result = change(versions, state["history"])
            state["versions"] = [asdict(v) for v in versions]
            self._write(state)
            return result

    def add(self, model: Path, fingerprint: str, project: Project | None = None, *,
            version: str | None = None) -> ModelVersion:
        """Register a trained model file (moved into the models directory if elsewhere)."""
        name = version or model.name.removesuffix(".tar.gz")
        target = self.models_dir / f"{name}.tar.gz"
        if model.resolve() != target.resolve():
            self.models_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(model), target)
        if project is not None:
            _copy_project(project, self.snapshot(name))
        entry = ModelVersion(name, target.name, fingerprint, utcnow().isoformat(timespec="seconds"))

        def change(versions: list[ModelVersion], _: list[str]) -> ModelVersion:
            if any(v.version == name for v in versions):
                raise RegistryError(f"version {name} is registered already")
            versions.append(entry)
            return entry

        return self._update(change)

    def record_gate(self, version: str, report: dict[str, Any], passed: bool | None = None) -> ModelVersion:
        """Store a gate report; `passed` False refuses the version, None keeps its status."""
        def change(versions: list[ModelVersion], _: list[str]) -> ModelVersion:
            index = _index(versions, version)
            status = versions[index].status
            if passed is False and status == "candidate":
                status = "refused"
            versions[index] = replace(versions[index], gate=report, status=status)
            return versions[index]

        return self._update(change)

    def activate(self, version: str, *, force: bool = False, forced_by: str | None = None,
                 reason: str | None = None) -> ModelVersion:
        def change(versions: list[ModelVersion], history: list[str]) -> ModelVersion:
            index = _index(versions, version)
            refused = versions[index].status == "refused"
            if refused and not force:
                raise RegistryError(f"{version} was refused by the gate; activate it anyway with --force")
            if not (self.models_dir / versions[index].file).exists():
                raise RegistryError(f"the model file of {version} is missing")
            if refused:
                # Who overruled the gate, and why, stays with the version.
                versions[index] = replace(versions[index], forced={
                    "by": forced_by, "reason": reason, "at": utcnow().isoformat(timespec="seconds")})
            _make_active(versions, index)
            if not history or history[-1] != version:
                history.append(version)
            return versions[index]

        return self._update(change)

    def rollback(self) -> ModelVersion:
        """Back to the model that was active before the current one."""
        def change(versions: list[ModelVersion], history: list[str]) -> ModelVersion:
            names = {v.version for v in versions}
            while len(history) > 1:
                history.pop()
                if history[-1] in names:
                    index = _index(versions, history[-1])
                    _make_active(versions, index)
                    return versions[index]
            raise RegistryError("there is no earlier active model to roll back to")

        return self._update(change)


def _index(versions: list[ModelVersion], version: str) -> int:
    for index, entry in enumerate(versions):
        if entry.version == version:
            return index
    raise RegistryError(f"no model version {version!r}; see `python -m bot models list`")


def _make_active(versions: list[ModelVersion], index: int) -> None:
    now = utcnow().isoformat(timespec="seconds")
    for i, entry in enumerate(versions):
        if entry.status == "active" and i != index:
            versions[i] = replace(entry, status="retired")
    versions[index] = replace(versions[index], status="active", activated_at=now)


def _copy_project(project: Project, target: Project) -> None:
    target.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project.config_file, target.config_file)
    shutil.copy2(project.domain_file, target.domain_file)
    shutil.copytree(project.data_dir, target.data_dir, dirs_exist_ok=True)
    if project.test_stories.exists():
        target.test_stories.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project.test_stories, target.test_stories)


def serving_model(models_dir: Path, explicit: Path | None = None) -> Path | None:
    """The model the service should answer with: MODEL_PATH when set, else the registry's
    active version, else the newest file (models trained before the registry existed)."""
    if explicit is not None:
        return explicit if explicit.exists() else None
    registry = Registry(models_dir)
    active = registry.active_path()
    if active is not None and active.exists():
        return active
    # A registered version is served only once activated: never a refused candidate.
    registered = {v.file for v in registry.versions()}
    candidates = sorted((p for p in models_dir.glob("*.tar.gz") if p.name not in registered),
                        key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None
