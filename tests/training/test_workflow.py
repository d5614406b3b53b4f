"""The trainer's loop as a new user tries it, against the running service:
ask something the bot does not know, find it in review, make it a new intent, train,
pass the gate, activate, and the same question is answered, the service never restarted.

The tiny project (tests/training/tiny) keeps the two trainings to seconds of work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from bot.settings import PROJECT_DIR
from bot.training.project import Project
from bot.training.registry import Registry
from tests.support.client import new_sender, say
from tests.support.process import ServiceProcess
from tests.training.conftest import project_env

QUESTION = "do you sell gift cards?"
ANSWER = "Yes! Gift cards from £10, online and in every store."


@pytest.mark.timeout(1800)
async def test_a_new_intent_is_answered_after_training_without_a_restart(tiny_copy: Project, tmp_path):
    models = tmp_path / "models"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    env = {**os.environ, **project_env(tiny_copy, models, DATABASE_URL=database_url, GATE_TOLERANCE="0.2")}

    def bot(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, env=env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        return result

    first = bot("train", "--if-missing", timeout=900)
    assert "first model: active without a gate" in first.stdout
    assert bot("train", "--if-missing").stdout == ""  # a model exists: nothing to do, fast
    v1 = Registry(models).active()

    service = ServiceProcess(project_env(tiny_copy, models, DATABASE_URL=database_url, MODEL_POLL_INTERVAL="0.3",
                                         POLL_INTERVAL="0.2", DEMO_ORDERS="false")).start()
    try:
        pid = service.process.pid
        before = await say(service.url, new_sender("new-user"), QUESTION)
        assert ANSWER not in [r.get("text") for r in before]

        review = json.loads(bot("review", "--json").stdout)
        found = next(g for g in review if g["key"] == "do you sell gift cards")
        message_id = found["messages"][0]["message_id"]
        bot("annotate", "--message", str(message_id), "--intent", "gift_cards", "--new", "--response", ANSWER)
        for example in ("can i buy a gift card", "gift vouchers?", "do you have gift cards",
                        "i'd like a gift card please", "are gift cards available"):
            bot("annotate", example, "--intent", "gift_cards")
        assert json.loads(bot("review", "--json").stdout) == []  # annotated: done

        trained = bot("train", "--activate", timeout=1200)
        assert "Gate: PASSED" in trained.stdout, trained.stdout
        v2 = Registry(models).active()
        assert v2.version != v1.version and v2.gate["decision"]["passed"]
        assert Registry(models).get(v1.version).status == "retired"

        deadline = time.monotonic() + 120
        while service.health()["model"] != v2.file and time.monotonic() < deadline:
            time.sleep(0.3)
        after = await say(service.url, new_sender("new-user"), QUESTION)
        assert [r.get("text") for r in after] == [ANSWER]
        assert service.process.pid == pid and service.process.poll() is None

        # And back: rollback returns the old model to service.
        bot("models", "rollback")
        deadline = time.monotonic() + 120
        while service.health()["model"] != v1.file and time.monotonic() < deadline:
            time.sleep(0.3)
        assert service.health()["model"] == v1.file
    finally:
        service.stop()
