"""Training started from the console: `python -m bot train --events` in a child process at
a lower CPU priority (answers stay fast meanwhile), its steps, progress and outcome written
to the database and announced on the bus, so every trainer's page, on any web process,
follows it live. One run at a time, whichever process starts it.

Measuring a version that has no figures (`python -m bot models measure VERSION --events`:
the gate's held-out evaluation of its snapshot) is a run of the same machinery, of kind
`measure`: the same slot, so a measurement and a training never share the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.bus import TRAINING_TOPIC, Bus
from bot.messages import utcnow
from bot.settings import PROJECT_DIR, Settings
from bot.storage import training as store
from bot.storage.database import Database
from bot.training.trainer import rasa_environment, split_lines

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
HEARTBEAT_SECONDS = 2.0
# A run without a heartbeat for this long lost its process (a web process that died).
STALE_AFTER = timedelta(seconds=60)
OUTPUT_LINES = 200
# tqdm's bars as Rasa prints them: "Epochs:  45%|████▌     | 27/60 [00:10<00:12, ...]".
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BAR = re.compile(r"^(?P<label>[^|]{0,60}?):?\s*\d{1,3}%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)")


class TrainingBusy(Exception):
    def __init__(self, run_id: int | None, kind: str = "train") -> None:
        super().__init__("a training or measuring run is in progress already")
        self.run_id = run_id
        self.kind = kind  # of the run in progress


@dataclass(frozen=True)
class BarProgress:
    label: str
    done: int
    total: int


def bar_progress(line: str) -> BarProgress | None:
    match = _BAR.match(line)
    if match is None:
        return None
    return BarProgress(match["label"].strip() or "progress", int(match["done"]), int(match["total"]))


@dataclass(frozen=True)
class RunEvent:
    kind: str  # step | output | progress | result | error
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def parse_event(line: str) -> RunEvent:
    """A line of `bot train --events`; anything that is not one of its events is output
    (Rasa's own lines from the gate's trainings come through too), without its colours."""
    line = _ANSI.sub("", line)
    if line.startswith('{"event"'):
        with contextlib.suppress(ValueError, AttributeError):
            data = json.loads(line)
            kind = str(data.pop("event"))
            return RunEvent(kind, str(data.pop("text", "")), data)
    return RunEvent("output", line)


@dataclass
class RunState:
    """What a run has said so far, as the database's columns."""

    steps: list[dict[str, str]] = field(default_factory=list)
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES))
    progress: BarProgress | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def apply(self, event: RunEvent, now: datetime) -> bool:
        """Take in one event; True when it is worth writing at once (not only at the next flush)."""
        if event.kind == "step":
            self.steps.append({"text": event.text, "at": now.isoformat()})
            self.progress = None
            return True
        if event.kind == "result":
            self.result = event.data
            return True
        if event.kind == "error":
            self.error = event.text
            return True
        if event.kind == "progress":
            # Our own progress (a measurement's held-out examples), not one of Rasa's bars.
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self.progress = BarProgress(event.data["label"], int(event.data["done"]), int(event.data["total"]))
            return False
        progress = bar_progress(event.text)
        if progress is not None:
            self.progress = progress
            if progress.done < progress.total:
                return False  # a bar's redraw: only its last state belongs in the log
        self.output.append(event.text)
        return False

    def columns(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "output": "\n".join(self.output),
                "progress_label": self.progress.label[:64] if self.progress else None,
                "progress_done": self.progress.done if self.progress else None,
                "progress_total": self.progress.total if self.progress else None}

    def outcome(self, returncode: int) -> tuple[str, dict[str, Any]]:
        if self.result is not None:
            status = self.result.get("status")
            status = status if status in ("refused", "measured") else "passed"
            return status, {"version": self.result.get("version"), "report": self.result.get("report")}
        tail = "\n".join(list(self.output)[-5:])
        return "failed", {"error": self.error or f"training stopped with exit code {returncode}\n{tail}".strip()}


class TrainingRunner:
    def __init__(self, db: Database, bus: Bus, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self._followers: dict[int, asyncio.Task] = {}

    async def start(self, started_by: str, activate: bool) -> int:
        """Start a training; TrainingBusy when a run is going (here or in another process)."""
        command = ["train", "--events", *(["--activate"] if activate else [])]
        return await self._launch(started_by, command, activate=activate, kind="train")

    async def measure(self, started_by: str, version: str) -> int:
        """Start measuring a version's held-out figures; TrainingBusy as `start`."""
        command = ["models", "measure", version, "--events"]
        return await self._launch(started_by, command, activate=False, kind="measure", version=version)

    async def _launch(self, started_by: str, command: list[str], *, activate: bool, kind: str,
                      version: str | None = None) -> int:
        now = self.clock()
        async with self.db.session() as session:
            await store.free_stale_slot(session, now, STALE_AFTER)
        try:
            async with self.db.session() as session:
                run_id = (await store.start_run(session, started_by, activate, now, kind=kind, version=version)).id
        except IntegrityError:
            async with self.db.session() as session:
                running = await store.running_run(session)
            # The slot may have been freed meanwhile: busy all the same, with nothing to name.
            busy = TrainingBusy(running.id, running.kind) if running else TrainingBusy(None)
            raise busy from None
        try:
            # Popen and a reader thread, not asyncio's subprocesses: those need the event loop
            # policy's child watcher, which the policy Rasa's web stack installs does not have.
            process = subprocess.Popen([sys.executable, "-m", "bot", *command], cwd=PROJECT_DIR,
                                       env=self._environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        except OSError as error:
            await self._finish(run_id, "failed", {"error": f"could not start the {kind} run: {error}"})
            raise
        task = asyncio.create_task(self._follow(run_id, process), name=f"training-run-{run_id}")
        self._followers[run_id] = task
        task.add_done_callback(lambda _: self._followers.pop(run_id, None))
        logger.info("%s run %d started by %s (pid %d)", kind, run_id, started_by, process.pid)
        await self.bus.publish(TRAINING_TOPIC, {"type": "training", "run_id": run_id})
        return run_id

    def _environment(self) -> dict[str, str]:
        s = self.settings
        return {**rasa_environment(), "DATA_DIR": str(s.data_dir), "DOMAIN_FILE": str(s.domain_file),
                "CONFIG_FILE": str(s.config_file), "MODELS_DIR": str(s.models_dir),
                "GATE_TOLERANCE": str(s.gate_tolerance), "DATABASE_URL": s.database_url,
                "TRAINING_NICENESS": str(s.training_niceness),
                # Libraries' deprecation notices would bury the progress a trainer reads.
                "PYTHONWARNINGS": "ignore"}

    async def _follow(self, run_id: int, process: subprocess.Popen) -> None:
        state = RunState()
        chunks = _read_in_thread(process)
        loop = asyncio.get_running_loop()
        written = loop.time()
        pending = ""
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(chunks.get(), HEARTBEAT_SECONDS)
                except asyncio.TimeoutError:
                    chunk = None  # quiet for a while (the gate's evaluation): a heartbeat
                if chunk == b"":
                    break
                urgent = False
                if chunk:
                    lines, pending = split_lines(pending, chunk)
                    for line in lines:
                        urgent |= state.apply(parse_event(line), self.clock())
                if urgent or chunk is None or loop.time() - written >= FLUSH_SECONDS:
                    await self._record(run_id, state)
                    written = loop.time()
            if pending.strip():
                state.apply(parse_event(pending.strip()), self.clock())
            returncode = await asyncio.to_thread(process.wait)
            status, values = state.outcome(returncode)
            await self._finish(run_id, status, {**state.columns(), **values})
            logger.info("training run %d ended: %s %s", run_id, status, values.get("version") or "")
        except asyncio.CancelledError:
            _stop(process)
            await self._finish(run_id, "failed", {**state.columns(), "error": "the service stopped during training"})
            raise
        except Exception as error:  # the run must not stay "running" for a minute
            logger.exception("training run %d: following it failed", run_id)
            _stop(process)
            await self._finish(run_id, "failed", {**state.columns(), "error": f"following the training failed: {error}"})

    async def _record(self, run_id: int, state: RunState) -> None:
        try:
            async with self.db.session() as session:
                await store.record_progress(session, run_id, self.clock(), **state.columns())
        except Exception:
            # A database hiccup loses one progress write, never the run: the next one catches up.
            logger.warning("training run %d: progress not recorded", run_id, exc_info=True)
            return
        await self.bus.publish(TRAINING_TOPIC, {"type": "training", "run_id": run_id})

    async def _finish(self, run_id: int, status: str, values: dict[str, Any]) -> None:
        async with self.db.session() as session:
            await store.finish_run(session, run_id, status, self.clock(), **values)
        await self.bus.publish(TRAINING_TOPIC, {"type": "training", "run_id": run_id, "status": status})

    async def close(self) -> None:
        tasks = list(self._followers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _read_in_thread(process: subprocess.Popen) -> asyncio.Queue[bytes]:
    """The child's output as chunks on a queue; b"" when it closes its output."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    assert process.stdout is not None

    def read() -> None:
        for chunk in iter(lambda: process.stdout.read1(4096), b""):
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
        loop.call_soon_threadsafe(chunks.put_nowait, b"")

    threading.Thread(target=read, name="training-output", daemon=True).start()
    return chunks


def _stop(process: subprocess.Popen) -> None:
    """End the training and the `rasa train` it started (they share a process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
