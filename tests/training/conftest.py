"""A copy of a Rasa project in a temporary directory, for tests that edit or train it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.settings import PROJECT_DIR
from bot.training.project import Project

TINY = Path(__file__).parent / "tiny"


def copy_project(source: Project, target: Path) -> Project:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.config_file, target / "config.yml")
    shutil.copy2(source.domain_file, target / "domain.yml")
    shutil.copytree(source.data_dir, target / "data")
    return Project.at(target)


@pytest.fixture
def demo_copy(tmp_path) -> Project:
    """The shipped demo project's files, to edit without touching the real ones."""
    return copy_project(Project.at(PROJECT_DIR), tmp_path / "demo")


@pytest.fixture
def tiny_copy(tmp_path) -> Project:
    """A three-intent project whose pipeline trains in seconds (no TensorFlow)."""
    return copy_project(Project.at(TINY), tmp_path / "tiny")


def project_env(project: Project, models_dir: Path, **extra: str) -> dict[str, str]:
    return {"DATA_DIR": str(project.data_dir), "DOMAIN_FILE": str(project.domain_file),
            "CONFIG_FILE": str(project.config_file), "MODELS_DIR": str(models_dir), **extra}
