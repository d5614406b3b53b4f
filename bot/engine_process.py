"""The dialogue engine in a process of its own, for the single-process `bot run`.

One Python process runs one thread of Python at a time. With the model in the same
process as the webhooks and the worker, the model's CPU work and ours took turns on one
core, and a webhook waited for the model to let go of the interpreter. Here the model
runs in a child process (`python -m bot.engine_process`), so the two use two cores and
the webhooks are acknowledged while the model works.

Parent and child talk over a socket pair, one JSON line a request and one a reply,
matched by id, many in flight at once. The child exits when the socket closes, so it
never outlives the service, even after a kill -9. If the child dies, the messages being
answered fail as an outage (retried, never given up on) and the next request starts a
new child.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.engine import EngineError, Reply, Turn
from bot.memory import freeze_long_lived
from bot.messages import Button

logger = logging.getLogger(__name__)

# Loading TensorFlow and a model takes seconds to minutes on a small machine.
START_TIMEOUT_SECONDS = 900.0
# The longest JSON line either side reads. A platform's webhook may carry a text of
# megabytes (up to PLATFORM_MAX_BODY_BYTES, escaped again on the way here); asyncio's
# default of 64 KiB made such a message end the engine process at each of its retries.
LINE_LIMIT_BYTES = 64 * 1024 * 1024


class EngineUnavailable(EngineError, ConnectionError):
    """The engine process is not running (it died, or is starting again)."""


class EngineProcess:
    """DialogueEngine's interface (start, stop, swap, handle, model_path), answered by a child process."""

    def __init__(self, model_path: Path, niceness: int = 0) -> None:
        self.model_path = model_path
        self._niceness = niceness
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._reading: asyncio.Task | None = None
        self._starting = asyncio.Lock()
        self._stopping = False

    @property
    def model_name(self) -> str:
        return self.model_path.name

    async def start(self) -> None:
        parent, child = socket.socketpair()
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.engine_process", str(child.fileno()), str(self.model_path),
                str(self._niceness), pass_fds=(child.fileno(),))
        finally:
            child.close()
        reader, self._writer = await asyncio.open_connection(sock=parent, limit=LINE_LIMIT_BYTES)
        ready = asyncio.get_running_loop().create_future()
        self._pending[0] = ready
        self._reading = asyncio.create_task(self._read(reader), name="engine-process-replies")
        try:
            await asyncio.wait_for(ready, START_TIMEOUT_SECONDS)
        except BaseException:
            await self.stop()
            raise
        logger.info("dialogue model %s loaded in engine process %d", self.model_name, self._process.pid)

    async def stop(self) -> None:
        self._stopping = True
        if self._writer is not None:
            self._writer.close()  # the child sees the socket close and exits
        if self._process is not None and self._process.returncode is None:
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except asyncio.TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.gather(self._reading, return_exceptions=True)

    async def swap(self, model_path: Path) -> None:
        await self._call({"op": "swap", "model": str(model_path)})
        self.model_path = model_path
        logger.info("dialogue model %s loaded; now answering with it", model_path.name)

    async def handle(self, conversation_key: str, text: str, *, channel: str, message_id: str,
                     metadata: dict | None = None) -> Turn:
        answer = await self._call({"op": "handle", "key": conversation_key, "text": text, "channel": channel,
                                   "message_id": message_id, "metadata": metadata or {}})
        return turn_from_json(answer)

    @property
    def _running(self) -> bool:
        return self._process is not None and self._process.returncode is None and not self._writer.is_closing()

    async def _call(self, request: dict[str, Any]) -> Any:
        if not self._running:
            await self._restart()
        request_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        self._writer.write(json.dumps({**request, "id": request_id}).encode() + b"\n")
        return await answer

    async def _restart(self) -> None:
        async with self._starting:
            if self._running:
                return  # another request started it meanwhile
            if self._stopping:
                raise EngineUnavailable("the dialogue engine is stopping")
            logger.error("the dialogue engine process is not running; starting it again")
            await self.start()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await _next_line(reader):
                reply = json.loads(line)
                answer = self._pending.pop(reply["id"], None)
                if answer is None or answer.done():
                    continue
                if "error" in reply:
                    answer.set_exception(EngineError(reply["error"]))
                else:
                    answer.set_result(reply.get("result"))
        finally:
            self._writer.close()
            gone = EngineUnavailable("the dialogue engine process stopped")
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(gone)
            self._pending.clear()


async def _next_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except (ConnectionError, OSError):
        return b""  # the other side died


def turn_to_json(turn: Turn) -> dict[str, Any]:
    return asdict(turn)


def turn_from_json(data: dict[str, Any]) -> Turn:
    replies = [Reply(text=r["text"], buttons=tuple(Button(**b) for b in r["buttons"]), image=r["image"],
                     custom=r["custom"]) for r in data["replies"]]
    return Turn(**{**data, "replies": replies})


async def _serve(fd: int, model_path: Path) -> None:
    from bot import settings as settings_module
    from bot.app import build_engine

    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd), limit=LINE_LIMIT_BYTES)

    def send(reply: dict[str, Any]) -> None:
        writer.write(json.dumps(reply, default=float).encode() + b"\n")

    settings = settings_module.load()
    try:
        # Inside: an actions package that fails to import is told to the parent like a model that fails to load.
        engine = build_engine(settings, model_path)
        await engine.start()
    except Exception as error:
        send({"id": 0, "error": f"{type(error).__name__}: {error}"})
        await writer.drain()
        raise
    freeze_long_lived()
    send({"id": 0, "result": engine.model_name})

    async def answer(request: dict[str, Any]) -> None:
        try:
            if request["op"] == "swap":
                await engine.swap(Path(request["model"]))
                result: Any = engine.model_name
            else:
                result = turn_to_json(await engine.handle(
                    request["key"], request["text"], channel=request["channel"],
                    message_id=request["message_id"], metadata=request["metadata"]))
            send({"id": request["id"], "result": result})
        except Exception as error:  # the parent's worker decides what a failed turn means
            logger.exception("dialogue engine request failed")
            send({"id": request["id"], "error": f"{type(error).__name__}: {error}"})

    running: set[asyncio.Task] = set()
    while line := await _next_line(reader):
        task = asyncio.create_task(answer(json.loads(line)))
        running.add(task)
        task.add_done_callback(running.discard)
    # The service closed the socket (stopped, or was killed): nothing is left to answer.
    for task in running:
        task.cancel()
    await engine.stop()


def main(argv: list[str]) -> None:
    from bot.logs import configure_logging

    fd, model_path, niceness = int(argv[1]), Path(argv[2]), int(argv[3])
    configure_logging(os.environ.get("LOG_LEVEL") or "INFO")
    if niceness > 0:
        os.nice(niceness)  # the webhooks' acknowledgements go first
    asyncio.run(_serve(fd, model_path))


if __name__ == "__main__":
    main(sys.argv)
