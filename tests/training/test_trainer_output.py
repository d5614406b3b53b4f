"""What `rasa train` prints to a trainer: its progress, not the libraries' notices."""

from __future__ import annotations

from bot.training import train


def test_rasa_train_prints_its_progress_and_no_library_warnings(tiny_copy, tmp_path, monkeypatch):
    # As on a person's machine: nothing set that would quiet the libraries already.
    for name in ("PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL", "SQLALCHEMY_SILENCE_UBER_WARNING"):
        monkeypatch.delenv(name, raising=False)
    lines: list[str] = []
    model = train(tmp_path / "models", "quiet", tiny_copy, on_output=lines.append)
    output = "\n".join(lines)
    assert model.exists() and "rasa.engine.training.hooks" in output, output
    for noise in ("Warning", "deprecated", "I tensorflow/", "W tensorflow/"):
        assert noise not in output, f"{noise!r} in the output:\n{output}"
