"""Sending the fuzzer's bodies to a running service and judging how it took them.

Shared by `make fuzz` (bench/fuzz.py) and tests/test_fuzz_webhooks.py. For each target it
counts the answers (HTTP status codes; for the two WebSocket protocols the kind of answer
to each frame), reads the service's RSS before and after, scans the service's log for
tracebacks written meanwhile, and then asks a real question over REST and checks the
answer is a real one.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.settings import Settings
from tests.support.client import responses
from tests.support.fuzz import Generator, Target
from tests.support.process import ServiceProcess

# What in the service's log means something broke: an exception that escaped a handler or
# a task, and anything logged as an error.
CRASH_LINE = re.compile(r"Traceback \(most recent call last\)|Error handling request| ERROR | CRITICAL |Task exception")
CHECK_QUESTION = "what are your opening hours?"


@dataclass
class Report:
    target: str
    requests: int = 0
    answers: Counter = field(default_factory=Counter)
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    seconds: float = 0.0
    crash_lines: list[str] = field(default_factory=list)
    answers_after: bool = False
    alive: bool = True

    @property
    def server_errors(self) -> int:
        """5xx answers, and for WebSockets the frames answered by a dropped connection or nothing."""
        return sum(n for kind, n in self.answers.items() if str(kind).startswith("5") or kind in FAILED_KINDS)

    @property
    def ok(self) -> bool:
        return self.server_errors == 0 and not self.crash_lines and self.answers_after and self.alive


# Answers that mean the service failed the caller, whatever the protocol.
FAILED_KINDS = {"connection lost", "no answer"}
# The web chat's frame limit under the fuzzer's settings (MAX_BODY_BYTES, not changed there).
MAX_FRAME_BYTES = Settings.max_body_bytes


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def fuzz_target(service: ServiceProcess, target: Target, count: int, seed: int, concurrency: int = 8,
                      drain_timeout: float = 900) -> Report:
    report = Report(target.name)
    assert service.process is not None
    report.rss_before_kb = rss_kb(service.process.pid)
    log_start = service.log_path.stat().st_size
    generator = Generator(target, seed)
    remaining = iter(range(count))
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        send = {"http": _http_worker, "webchat": _webchat_worker, "socketio": _socketio_worker}[target.kind]
        await asyncio.gather(*(send(http, service.url, target, generator, remaining, report, n)
                               for n in range(concurrency)))
    report.seconds = time.monotonic() - started
    report.alive = service.process.poll() is None and service.health() is not None
    if report.alive:
        await _drained(service, drain_timeout)
        report.answers_after = await answers_a_real_question(service.url, target.name)
        report.rss_after_kb = rss_kb(service.process.pid)
    report.crash_lines = _crash_lines(service.log_path, log_start)
    return report


async def answers_a_real_question(url: str, label: str) -> bool:
    body = {"sender": f"fuzz-check-{label}-{uuid.uuid4().hex[:8]}", "message": CHECK_QUESTION}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            async with http.post(f"{url}/webhooks/rest/webhook", json=body) as response:
                if response.status != 200:
                    return False
                replies = await response.json()
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False
    return any(r.get("text") in responses()["utter_opening_hours"] for r in replies)


async def _drained(service: ServiceProcess, timeout: float = 900) -> None:
    """Wait for the workers to finish what the fuzzing left them (valid bodies are real messages)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = await asyncio.to_thread(service.health)
        # No answer within health()'s 2 s on a busy machine is not an empty backlog: the
        # question asked next would wait behind it past REST's reply timeout.
        if health is not None and health.get("backlog") == 0:
            return
        await asyncio.sleep(1)


def _crash_lines(log_path: Path, start: int) -> list[str]:
    with open(log_path, "rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8", "replace")
    return [line[:300] for line in text.splitlines() if CRASH_LINE.search(line)]


async def _http_worker(http: aiohttp.ClientSession, url: str, target: Target, generator: Generator,
                       remaining, report: Report, n: int) -> None:
    for _ in remaining:
        body, headers = generator.next()
        report.requests += 1
        try:
            async with http.post(url + target.path, data=body, headers=headers) as response:
                await response.read()
                report.answers[str(response.status)] += 1
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            report.answers["connection lost"] += 1
            report.answers[f"({type(error).__name__})"] += 0


async def _webchat_worker(http: aiohttp.ClientSession, url: str, target: Target, generator: Generator,
                          remaining, report: Report, n: int) -> None:
    """One customer's widget: each text frame is answered by an "ack" or an "error" frame."""
    ws = None
    try:
        for _ in remaining:
            body, _headers = generator.next()
            report.requests += 1
            if ws is None or ws.closed:
                ws = await http.ws_connect(f"{url}{target.path}?sender=fuzz-{n}-{uuid.uuid4().hex[:8]}")
                first = await ws.receive(timeout=30)
                if first.type != aiohttp.WSMsgType.TEXT or json.loads(first.data).get("type") != "history":
                    report.answers["no history"] += 1
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                # Invalid UTF-8 in a text frame: the protocol says the server must close (1007).
                await ws._writer.send(body, binary=False)  # noqa: SLF001 - aiohttp encodes str only
                closing = await ws.receive(timeout=30)
                report.answers["closed 1007" if ws.close_code == 1007 or closing.type in (
                    aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING) else "open"] += 1
                await ws.close()
                continue
            await ws.send_str(text)
            answer = await _webchat_answer(ws)
            if answer == "closed 1009" and len(text.encode("utf-8")) <= MAX_FRAME_BYTES:
                answer = "connection lost"  # "too big" is the answer only to a frame over the limit
            report.answers[answer] += 1
    finally:
        if ws is not None:
            await ws.close()


async def _webchat_answer(ws, within: float = 60) -> str:
    deadline = time.monotonic() + within  # the bot's replies meanwhile must not extend it
    while True:
        try:
            frame = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            await ws.close()
            return "no answer"
        if frame.type != aiohttp.WSMsgType.TEXT:
            # A frame over MAX_BODY_BYTES is refused by closing with 1009 ("message too big").
            return "closed 1009" if ws.close_code == 1009 else "connection lost"
        kind = json.loads(frame.data).get("type")
        if kind in ("ack", "error"):
            return kind  # the bot's replies ("message") may arrive before or after


async def _socketio_worker(http: aiohttp.ClientSession, url: str, target: Target, generator: Generator,
                           remaining, report: Report, n: int) -> None:
    """A rasa-webchat widget speaking Engine.IO 4 / Socket.IO 5 by hand. Every event packet
    asks for an acknowledgement (`42<id>[...]`), which the server sends when its handler
    has finished; a packet that is not even Socket.IO is followed by one that is, so that
    it is answered too, or the connection is seen closed."""
    ws = None
    ack = 0
    try:
        for _ in remaining:
            body, _headers = generator.next()
            report.requests += 1
            if ws is None or ws.closed:
                ws = await _socketio_connect(http, url + target.path)
            ack += 1
            text = body.decode("utf-8", "replace")
            roll = generator.rng.random()
            if roll < 0.85:
                await ws.send_str(f"42{ack}{text}")
            else:  # not an event packet: another Engine.IO or Socket.IO type, or nothing known
                await ws.send_str(generator.rng.choice(["4", "41", "43", "44", "45", "46", "3", "6", "9", ""]) + text)
                ack_probe = json.dumps(["session_request", {"session_id": None}])
                await ws.send_str(f"42{ack}{ack_probe}")
            report.answers[await _socketio_answer(ws, ack)] += 1
    finally:
        if ws is not None:
            await ws.close()


async def _socketio_connect(http: aiohttp.ClientSession, url: str):
    ws = await http.ws_connect(f"{url}?EIO=4&transport=websocket")
    opened = await ws.receive_str(timeout=30)
    assert opened.startswith("0"), opened
    await ws.send_str("40")
    connected = await ws.receive_str(timeout=30)
    assert connected.startswith("40"), connected
    return ws


async def _socketio_answer(ws, ack: int, within: float = 60) -> str:
    # One deadline for the answer: Engine.IO's pings, answered meanwhile, must not extend it.
    deadline = time.monotonic() + within
    errors = 0
    while True:
        try:
            frame = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            await ws.close()
            return "no answer"
        if frame.type != aiohttp.WSMsgType.TEXT:
            return "closed"
        data = frame.data
        if data == "2":  # Engine.IO ping
            await ws.send_str("3")
        elif data.startswith(f"43{ack}["):
            return "ack after error" if errors else "ack"
        elif data.startswith('42["error"'):
            errors += 1
        elif data == "1" or data.startswith("41"):
            await ws.close()
            return "closed"  # told to go: Engine.IO's close, or Socket.IO's disconnect
        elif data.startswith("44"):
            return "refused"  # a Socket.IO error packet
