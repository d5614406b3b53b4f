"""A fake platform API on loopback: records every request and answers as scripted.

It runs on its own thread and event loop so that one server can live for a whole test
module, beside the real service process that calls it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Answer = Callable[[Recorded], tuple[int, Any]]


class FakePlatform:
    def __init__(self, default: Answer | None = None) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, list[Scripted]] = {}
        self._ids = itertools.count(1)
        self._default = default or (lambda recorded: (200, {"id": f"fake-{next(self._ids)}"}))
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def next_id(self) -> int:
        return next(self._ids)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakePlatform:
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        started.wait(10)
        return self

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting and inspection --------------------------------------------------------
    def script(self, path_contains: str, *answers: Scripted) -> None:
        """The next requests whose path contains `path_contains` get these answers, in order."""
        with self._lock:
            self._scripts.setdefault(path_contains, []).extend(answers)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._scripts.clear()

    def received(self, path_contains: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path_contains in r.path]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 30.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.requests)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.05)
        raise AssertionError(f"the fake platform did not receive what was expected; it got: "
                             f"{[(r.method, r.path, r.body[:300]) for r in snapshot]}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(request.method, request.path, dict(request.query), dict(request.headers),
                            await request.read())
        with self._lock:
            self.requests.append(recorded)
            scripted = next((queue.pop(0) for key, queue in self._scripts.items()
                             if key in request.path and queue), None)
        if scripted is None:
            status, body = self._default(recorded)
            headers: dict[str, str] = {}
        else:
            if scripted.delay:
                await asyncio.sleep(scripted.delay)
            status, body, headers = scripted.status, scripted.body, scripted.headers
        if isinstance(body, (dict, list)):
            return web.json_response(body, status=status, headers=headers)
        return web.Response(status=status, text=str(body), headers=headers)
