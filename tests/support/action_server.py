"""rasa-sdk's own action server (`python -m rasa_sdk`), started as a brand starts it, on
loopback, for the tests of a service pointed at it with ACTION_ENDPOINT_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.process import free_port


@contextmanager
def action_server(package: str, folder: Path, python_path: Path | None = None) -> Iterator[str]:
    """The server's webhook URL while it runs `package`, started in `folder`."""
    port = free_port()
    env = {**os.environ, "SANIC_HOST": "127.0.0.1"}
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    log = open(f"/tmp/action-server-{port}.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", package, "--port", str(port)],
                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(f"http://127.0.0.1:{port}/health"):
            assert process.poll() is None, f"the action server exited with {process.returncode}"
            assert time.monotonic() < deadline, "the action server did not start in 60 s"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
