"""The real service as a child process (`python -m bot run|web|worker`), on a free port."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.settings import PROJECT_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    def __init__(self, env: dict[str, str], command: str = "run", log_path: Path | None = None) -> None:
        self.port = free_port()
        self.command = command
        # Tests read /health's details (model, channels), which need the health token.
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "RASA_TELEMETRY_ENABLED": "false",
                    "TF_CPP_MIN_LOG_LEVEL": "2", "LOG_LEVEL": "INFO", "HEALTH_TOKEN": secrets.token_urlsafe(24),
                    **env}
        self.log_path = log_path or Path(f"/tmp/assistant-test-{self.port}.log")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300, *, until: str = "ok") -> ServiceProcess:
        """Start, and wait until /health's status is `until`: "ok" when the model is loaded
        (tests expect answers), or "loading" to return as soon as the port accepts messages."""
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "bot", self.command], cwd=PROJECT_DIR,
                                        env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"service exited with {self.process.returncode}:\n{self.log()}")
                health = self.health()
                if health is not None and health["status"] in (until, "ok"):
                    return self
                time.sleep(0.2)
        except BaseException:
            # Interrupted (a test's timeout, Ctrl-C): no service is left running behind the test.
            self.stop()
            raise
        self.stop()
        raise RuntimeError(f"service did not become healthy in {timeout}s:\n{self.log()}")

    def health(self) -> dict | None:
        try:
            request = urllib.request.Request(f"{self.url}/health",
                                             headers={"Authorization": f"Bearer {self.env['HEALTH_TOKEN']}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        if hasattr(self, "_log"):
            self._log.close()
        return self.process.returncode if self.process else None
