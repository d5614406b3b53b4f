"""`bot run` keeps the model in a child process: the service survives the child's death,
and the child never outlives the service."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import service_env
from tests.support.client import is_response, new_sender, say
from tests.support.process import ServiceProcess


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def engine_child(service: ServiceProcess) -> int:
    (child,) = [p for p in children(service.process.pid)
                if "bot.engine_process" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
    return child


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def sqlite_service(model, tmp_path):
    # Long enough for the REST answer to wait out a new engine process loading the model.
    service = ServiceProcess(service_env(f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}", model,
                                         REST_REPLY_TIMEOUT="180")).start()
    try:
        yield service
    finally:
        service.stop()


async def test_the_model_answers_from_a_child_process_at_lower_priority(sqlite_service):
    child = engine_child(sqlite_service)
    assert os.getpriority(os.PRIO_PROCESS, child) == os.getpriority(os.PRIO_PROCESS, sqlite_service.process.pid) + 10
    replies = await say(sqlite_service.url, new_sender(), "what are your opening hours?")
    assert any(is_response(r["text"], "utter_opening_hours") for r in replies)
    assert (Path(sqlite_service.env["DATABASE_URL"].split(":///")[1]).with_name("assistant-tracker.db")).exists()


async def test_a_killed_engine_process_is_started_again_and_no_message_is_lost(sqlite_service):
    sender = new_sender()
    os.kill(engine_child(sqlite_service), signal.SIGKILL)
    # Asked while the model is away: answered once a new engine process has loaded it.
    replies = await say(sqlite_service.url, sender, "how much is shipping?")
    assert any(is_response(r["text"], "utter_shipping_cost") for r in replies), replies
    log = sqlite_service.log_path.read_text(errors="replace")
    assert "the dialogue engine process is not running; starting it again" in log
    assert "Task exception was never retrieved" not in log
    assert alive(engine_child(sqlite_service))


async def test_the_engine_process_does_not_outlive_a_killed_service(model, tmp_path):
    service = ServiceProcess(service_env(f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}", model)).start()
    child = engine_child(service)
    service.kill()
    deadline = time.monotonic() + 30
    while alive(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not alive(child)


@pytest.mark.timeout(900)
async def test_a_message_longer_than_a_pipe_line_does_not_end_the_engine_process(model, tmp_path):
    """A platform may deliver a text of megabytes; its request to the engine process is one
    JSON line, which asyncio's default reader refused past 64 KiB: the engine process died
    at each retry of that message (found by `make fuzz`)."""
    service = ServiceProcess(service_env(f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}", model,
                                         MAX_TEXT_CHARS="300000", REST_REPLY_TIMEOUT="120")).start()
    try:
        child = engine_child(service)
        long_text = "what are your opening hours? " + "😀 please " * 15_000  # ~150,000 characters
        replies = await say(service.url, new_sender(), long_text)
        assert replies, "the long message was not answered"
        assert engine_child(service) == child and alive(child)
        replies = await say(service.url, new_sender(), "what are your opening hours?")
        assert any(is_response(r["text"], "utter_opening_hours") for r in replies), replies
        assert "Separator is not found" not in service.log_path.read_text(errors="replace")
    finally:
        service.stop()
