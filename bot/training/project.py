"""Where a Rasa project's training inputs are, and the fingerprint of their content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.settings import PROJECT_DIR, Settings


@dataclass(frozen=True)
class Project:
    config_file: Path
    domain_file: Path
    data_dir: Path

    @classmethod
    def at(cls, root: Path) -> Project:
        """The conventional layout: root/config.yml, root/domain.yml, root/data/."""
        return cls(root / "config.yml", root / "domain.yml", root / "data")

    @classmethod
    def from_settings(cls, settings: Settings) -> Project:
        return cls(settings.config_file, settings.domain_file, settings.data_dir)

    @property
    def root(self) -> Path:
        return self.domain_file.parent

    @property
    def nlu_file(self) -> Path:
        return self.data_dir / "nlu.yml"

    @property
    def rules_file(self) -> Path:
        return self.data_dir / "rules.yml"

    @property
    def test_stories(self) -> Path:
        # Rasa's convention; kept out of data/ so they never become training data.
        return self.root / "tests" / "test_stories.yml"

    def data_files(self) -> list[Path]:
        return sorted(p for p in self.data_dir.rglob("*") if p.is_file())


def fingerprint(project: Project | Path = PROJECT_DIR) -> str:
    """A hash of everything the model is trained from: same hash, same model."""
    if isinstance(project, Path):
        project = Project.at(project)
    digest = hashlib.sha256()
    named = [(project.config_file.name, project.config_file), (project.domain_file.name, project.domain_file)]
    named += [(str(Path(project.data_dir.name) / f.relative_to(project.data_dir)), f) for f in project.data_files()]
    for name, file in named:
        digest.update(name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]
