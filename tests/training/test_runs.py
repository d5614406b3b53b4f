"""What a console training run makes of `bot train --events`: steps, Rasa's progress bars,
the outcome; and the runner against the real command on the tiny project."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.bus import TRAINING_TOPIC, LocalBus
from bot.messages import utcnow
from bot.settings import Settings
from bot.storage import training as store
from bot.training.runs import RunState, TrainingBusy, TrainingRunner, bar_progress, parse_event
from tests.training.conftest import project_env


def test_rasa_progress_bars_are_read():
    line = "Epochs:  45%|████▌     | 27/60 [00:10<00:12,  2.71it/s, t_loss=1.23, i_acc=0.981]"
    assert bar_progress(line).__dict__ == {"label": "Epochs", "done": 27, "total": 60}
    assert bar_progress("Processed story blocks: 100%|██████████| 12/12 [00:00<00:00, 1234.5it/s, # trackers=1]") \
        .__dict__ == {"label": "Processed story blocks", "done": 12, "total": 12}
    assert bar_progress("2026-12-01 10:00:00 INFO rasa.engine.training - Starting to train component") is None


def test_events_and_plain_lines():
    assert parse_event(json.dumps({"event": "step", "text": "training model-1"})).kind == "step"
    result = parse_event(json.dumps({"event": "result", "version": "v2", "status": "refused", "report": "Gate: REFUSED"}))
    assert (result.kind, result.data["status"]) == ("result", "refused")
    plain = parse_event("\x1b[92mYour Rasa model is trained and saved at '/tmp/x.tar.gz'.\x1b[0m")
    assert (plain.kind, plain.text) == ("output", "Your Rasa model is trained and saved at '/tmp/x.tar.gz'.")
    assert parse_event('{"event": broken').kind == "output"


def test_a_run_keeps_steps_the_last_state_of_each_bar_and_its_outcome():
    state, now = RunState(), utcnow()
    assert state.apply(parse_event('{"event": "step", "text": "validating the training data"}'), now)
    for done in (1, 2, 3):
        assert not state.apply(parse_event(f"Epochs: {done * 33}%|███  | {done}/3 [00:01<00:02]"), now)
    assert state.progress.done == 3 and list(state.output) == ["Epochs: 99%|███  | 3/3 [00:01<00:02]"]
    assert state.outcome(1)[0] == "failed" and "exit code 1" in state.outcome(1)[1]["error"]
    state.apply(parse_event('{"event": "result", "version": "v2", "status": "active", "report": "Gate: PASSED"}'), now)
    assert state.outcome(0) == ("passed", {"version": "v2", "report": "Gate: PASSED"})
    columns = state.columns()
    assert columns["steps"][0]["text"] == "validating the training data" and columns["progress_total"] == 3


@pytest.mark.timeout(600)
async def test_the_runner_trains_the_project_and_records_every_step(db, tiny_copy, tmp_path):
    settings = Settings.from_mapping({**project_env(tiny_copy, tmp_path / "models"), "DATABASE_URL": db.url,
                                      "TRAINING_NICENESS": "0"})
    bus = LocalBus()
    runner = TrainingRunner(db, bus, settings)
    async with bus.subscribe(TRAINING_TOPIC) as notices:
        run_id = await runner.start("tess", activate=True)
        with pytest.raises(TrainingBusy) as busy:
            await runner.start("sam", activate=True)
        assert busy.value.run_id == run_id
        deadline = asyncio.get_running_loop().time() + 540
        while asyncio.get_running_loop().time() < deadline:
            notice = await notices.get(timeout=5)
            if notice and notice.get("status"):
                break
    async with db.session() as session:
        run = await store.get_run(session, run_id)
    assert run.status == "passed", (run.error, run.output[-2000:])
    assert [s["text"] for s in run.steps][:2] == ["validating the training data", f"training {run.version}"]
    assert "first model: active without a gate" in run.report
    assert (tmp_path / "models" / "registry.json").exists()
    await runner.close()


async def test_closing_the_service_stops_a_running_training(db, tiny_copy, tmp_path):
    settings = Settings.from_mapping({**project_env(tiny_copy, tmp_path / "models"), "DATABASE_URL": db.url})
    runner = TrainingRunner(db, LocalBus(), settings)
    run_id = await runner.start("tess", activate=False)
    await asyncio.sleep(0.5)
    await runner.close()
    async with db.session() as session:
        run = await store.get_run(session, run_id)
        assert (run.status, run.error, run.running_slot) == ("failed", "the service stopped during training", None)
        await store.free_stale_slot(session, utcnow(), timedelta(seconds=60))
    assert not (tmp_path / "models" / "registry.json").exists()
