"""A first start: the port accepts messages while the model loads, and says so.

The model's load is made as slow as needed for real: the engine's child process
(`python -m bot.engine_process`) is paused with SIGSTOP as soon as it exists, and
resumed with SIGCONT once the test has seen what happens meanwhile. Nothing in the
service knows; it simply has not got its model yet.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import BACKENDS, service_env
from tests.support.client import is_response, new_sender
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database

pytestmark = pytest.mark.slow

ENGINE_MODULE = b"bot.engine_process"
PROGRESS = re.compile(r"loading the dialogue model \S+\.\.\. \d+ s$", re.MULTILINE)


def output_of(service: ServiceProcess) -> str:
    return service.log_path.read_text(errors="replace")


def children(pid: int) -> Iterator[tuple[int, bytes]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The command may contain spaces and parentheses: the parent's pid follows the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                yield int(entry.name), (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile


class EnginePauser(threading.Thread):
    """Pauses the service's engine process the moment it appears."""

    def __init__(self, service: ServiceProcess) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.paused: int | None = None
        self._done = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 300
        while not self._done.is_set() and time.monotonic() < deadline:
            if self.service.process is not None:
                for pid, cmdline in children(self.service.process.pid):
                    if ENGINE_MODULE in cmdline:
                        os.kill(pid, signal.SIGSTOP)
                        self.paused = pid
                        return
            time.sleep(0.005)

    def resume(self) -> None:
        self._done.set()
        if self.paused is not None:
            try:
                os.kill(self.paused, signal.SIGCONT)
            except ProcessLookupError:
                pass  # the service has stopped it already


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def loading_service(database_url, model, tmp_path) -> Iterator[tuple[ServiceProcess, EnginePauser]]:
    """`bot run` with its model's load paused; started until /health answers."""
    service = ServiceProcess(service_env(database_url, model, REST_REPLY_TIMEOUT="1"), log_path=tmp_path / "out.log")
    # What a person's terminal would have: none of the test harness's quieting.
    for name in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "SQLALCHEMY_SILENCE_UBER_WARNING"):
        service.env.pop(name, None)
    pauser = EnginePauser(service)
    pauser.start()
    try:
        service.start(until="loading")
        yield service, pauser
    finally:
        pauser.resume()
        service.stop()


def post(url: str, body: bytes, content_type: str) -> tuple[int, object]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


# A whole load of the model, which takes minutes on a busy 2-core machine.
@pytest.mark.timeout(1500)
async def test_messages_are_accepted_while_the_model_loads_and_answered_once_it_is_ready(loading_service):
    service, pauser = loading_service
    assert pauser.paused is not None, "the engine process was not seen"
    assert service.health()["status"] == "loading"
    webhook = f"{service.url}/webhooks/rest/webhook"
    sender = new_sender("early")

    # REST answers in-band: it waits its usual time (REST_REPLY_TIMEOUT), then answers []
    # as for any slow answer; the message is stored, and a retry with its id gets the answer.
    status, body = post(webhook, json.dumps({"sender": sender, "message": "hello", "message_id": "m1"}).encode(),
                        "application/json")
    assert (status, body) == (200, [])
    # A form is refused through the real service, with what to send instead.
    status, body = post(webhook, b"sender=bob&message=hi", "application/x-www-form-urlencoded")
    assert status == 415 and "expects a JSON body" in body["error"]

    web_sender = new_sender("web")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{service.url}/webhooks/webchat/ws?sender={web_sender}") as ws:
            while (await ws.receive_json(timeout=30))["type"] != "history":
                pass
            client_id = str(uuid.uuid4())
            await ws.send_json({"type": "message", "text": "what are your opening hours", "client_id": client_id})
            while (frame := await ws.receive_json(timeout=30))["type"] != "ack":
                pass
            assert frame["client_id"] == client_id
            # Both are kept, unanswered, while the model is still loading.
            health = service.health()
            assert health["status"] == "loading" and health["backlog"] == 2
            # The operator is told how long it has been, every few seconds.
            wait_for(lambda: PROGRESS.search(output_of(service)), 60, "progress line")

            pauser.resume()
            while (frame := await ws.receive_json(timeout=900))["type"] != "message":
                pass
            assert frame["author"] == "bot" and is_response(frame["text"], "utter_opening_hours")

    wait_for(lambda: (service.health() or {}).get("status") == "ok", 900, "ready model")
    status, replies = post(webhook, json.dumps({"sender": sender, "message": "hello", "message_id": "m1"}).encode(),
                           "application/json")
    assert status == 200 and replies and all(r["recipient_id"] == sender for r in replies)
    assert is_response(replies[0]["text"], "utter_greet")

    output = output_of(service)
    assert "Web chat" in output and re.search(r"dialogue model \S+ ready in \d+ s", output)
    # What the libraries say about themselves stays out of a person's terminal.
    for noise in ("Warning", "WARNING", "I tensorflow/", "W tensorflow/", "deprecated"):
        assert noise not in output, f"{noise!r} in the output:\n{output}"


@pytest.mark.timeout(900)
def test_a_model_that_cannot_be_loaded_stops_the_service_with_the_reason(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a model archive")
    service = ServiceProcess(service_env(f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}", broken,
                                         REST_REPLY_TIMEOUT="1"),
                             log_path=tmp_path / "out.log")
    # A broken archive fails at once: the load is held until the webhook below is in.
    pauser = EnginePauser(service)
    pauser.start()
    try:
        # The port opens first: a webhook sent meanwhile is kept for the next start.
        service.start(until="loading")
        status, body = post(f"{service.url}/webhooks/rest/webhook",
                            json.dumps({"sender": "kept", "message": "hello"}).encode(), "application/json")
        assert (status, body) == (200, [])
        assert pauser.paused is not None, "the engine process was not seen"
        pauser.resume()
        assert service.process.wait(timeout=800) == 1
    finally:
        pauser.resume()
        service.stop()
    assert "error: the dialogue model could not be loaded" in output_of(service)
    assert "broken.tar.gz can not be loaded" in output_of(service)
