"""Training in a child process, so the serving process and this one stay responsive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.settings import PROJECT_DIR
from bot.training.project import Project

# One line of Rasa's output (tqdm redraws its bars with \r, hence both separators).
OutputCallback = Callable[[str], None]
_LINE_END = re.compile(r"[\r\n]+")


class TrainingFailed(RuntimeError):
    pass


# `rasa` with the libraries' notices kept out (bot/training/rasa_main.py); it runs in the
# project's folder, which may not be this code's, hence the code's folder on PYTHONPATH.
RASA = [sys.executable, "-m", "bot.training.rasa_main"]
_CODE_DIR = str(Path(__file__).resolve().parents[2])


def rasa_environment() -> dict[str, str]:
    # No telemetry and no update checks: the service must work without the internet.
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join(filter(None, (_CODE_DIR, os.environ.get("PYTHONPATH"))))}


def train(out_dir: Path, name: str, project_dir: Path | Project = PROJECT_DIR, quiet: bool = False,
          *, nlu_only: bool = False, on_output: OutputCallback | None = None) -> Path:
    """Train the project into out_dir/name.tar.gz with `rasa train` in a child process.

    Rasa's own progress bars go to the terminal, or line by line to `on_output`
    (the console streams them), or nowhere when `quiet`."""
    project = project_dir if isinstance(project_dir, Project) else Project.at(project_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if nlu_only:
        command = [*RASA, "train", "nlu", "--config", str(project.config_file),
                   "--nlu", str(project.data_dir)]
    else:
        command = [*RASA, "train", "--config", str(project.config_file),
                   "--domain", str(project.domain_file), "--data", str(project.data_dir)]
    command += ["--out", str(out_dir), "--fixed-model-name", name]
    if on_output is not None:
        returncode, tail = _streamed(command, project.root, on_output)
    else:
        result = subprocess.run(command, cwd=project.root, env=rasa_environment(),
                                stdout=subprocess.DEVNULL if quiet else None,
                                stderr=subprocess.PIPE if quiet else None, text=True)
        returncode, tail = result.returncode, (result.stderr or "")[-2000:] if quiet else "see the output above"
    model = out_dir / f"{name}.tar.gz"
    if returncode != 0 or not model.exists():
        raise TrainingFailed(f"rasa train failed with exit code {returncode}: {tail}")
    return model


def _streamed(command: list[str], cwd: Path, on_output: OutputCallback) -> tuple[int, str]:
    process = subprocess.Popen(command, cwd=cwd, env=rasa_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    assert process.stdout is not None
    pending, lines = "", []
    for chunk in iter(lambda: process.stdout.read1(4096), b""):
        complete, pending = split_lines(pending, chunk)
        for line in complete:
            lines = [*lines[-40:], line]
            on_output(line)
    if pending.strip():
        lines.append(pending.strip())
        on_output(pending.strip())
    return process.wait(), "\n".join(lines[-20:])


def split_lines(pending: str, chunk: bytes) -> tuple[list[str], str]:
    """The complete, non-empty lines of `pending + chunk`, and the unfinished rest."""
    parts = _LINE_END.split(pending + chunk.decode(errors="replace"))
    rest = parts.pop()
    return [p.strip() for p in parts if p.strip()], rest


def validate(project: Project) -> None:
    """What `rasa data validate` checks: the domain, NLU data, rules and stories agree.

    In this process (the CLI's, never the service's): it loads rasa once for the gate too."""
    from rasa.cli.utils import _validate_domain, _validate_nlu, _validate_story_structure
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.validator import Validator

    importer = TrainingDataImporter.load_from_config(
        config_path=str(project.config_file), domain_path=str(project.domain_file),
        training_data_paths=[str(project.data_dir)])
    validator = Validator.from_importer(importer)
    if importer.get_domain().is_empty():
        raise TrainingFailed(f"the domain {project.domain_file} is empty")
    results = [_validate_domain(validator), _validate_nlu(validator, False),
               _validate_story_structure(validator, None, False)]
    if not all(results):
        raise TrainingFailed("the training data is not valid: see rasa's messages above")
