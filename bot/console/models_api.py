"""The trainers' Models page behind the scenes: model versions with their gate reports,
training runs started from the console (bot/training/runs.py), the measurement of a
version without figures (the first model: no gate measured it), activation and rollback,
and a WebSocket that pushes the page's snapshot whenever a run or the registry moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot import audit
from bot.bus import TRAINING_TOPIC, Bus
from bot.console.api import answering, json_body, text_field
from bot.console.auth import TRAINER_ROLES
from bot.console.desk import DeskError
from bot.console.live import COALESCE_SECONDS, Alive, checked, console_socket
from bot.console.sessions import DatabaseStorage, identity, login_required
from bot.messages import utcnow
from bot.settings import Settings
from bot.storage import training as store
from bot.storage.database import Database
from bot.storage.models import TrainingRun
from bot.training.gate import stored_report
from bot.training.pipeline import measurable
from bot.training.registry import Registry, RegistryError
from bot.training.runs import TrainingBusy, TrainingRunner

trainer_api = login_required(TRAINER_ROLES, api=True)
# While a run is going, its heartbeat arrives every few seconds anyway; this is for the rest.
REFRESH_SECONDS = 15.0


def run_json(run: TrainingRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    progress = ({"label": run.progress_label, "done": run.progress_done, "total": run.progress_total}
                if run.progress_total else None)
    return {
        "id": run.id, "kind": run.kind, "started_by": run.started_by, "activate": run.activate, "status": run.status,
        "steps": run.steps or [], "output": run.output.splitlines()[-80:] if run.output else [], "progress": progress,
        "version": run.version, "report": run.report, "error": run.error,
        "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


class ModelsDesk:
    """What the Models page shows and does; the HTTP layer below only translates."""

    def __init__(self, db: Database, bus: Bus, settings: Settings, runner: TrainingRunner,
                 serving: Callable[[], str | None] = lambda: None) -> None:
        self.db = db
        self.serving = serving
        self.bus = bus
        self.registry = Registry(settings.models_dir)
        self.runner = runner
        self.poll_interval = settings.model_poll_interval

    async def snapshot(self) -> dict[str, Any]:
        versions = await asyncio.to_thread(self.registry.versions)
        previous = await asyncio.to_thread(self.registry.previous_active)
        async with self.db.session() as session:
            runs = await store.recent_runs(session, 1)
        return {
            "type": "models",
            "versions": [{**asdict(v), "report": stored_report(v.gate)} for v in reversed(versions)],
            "active": next((v.version for v in versions if v.status == "active"), None),
            "rollback_to": previous, "poll_interval": self.poll_interval,
            # The model this process answers with (when it runs a dialogue worker too).
            "serving": self.serving(),
            "run": run_json(runs[0] if runs else None),
        }

    async def train(self, by: str, activate: bool) -> int:
        try:
            return await self.runner.start(by, activate)
        except TrainingBusy as busy:
            raise _busy(busy) from None

    async def measure(self, by: str, version: str) -> int:
        """Measure a version without figures in the background, as a run of its own; what
        makes it impossible (no such version, figures already, no snapshot) is said at once."""
        try:
            await asyncio.to_thread(measurable, self.registry, version)
        except RegistryError as error:
            raise DeskError(str(error)) from None
        try:
            return await self.runner.measure(by, version)
        except TrainingBusy as busy:
            raise _busy(busy) from None

    async def activate(self, version: str, by: str, role: str, forced_reason: str | None = None) -> str:
        """Activate a version; one the gate refused only by an admin who says why (kept on
        the version's registry entry and shown on the Models page)."""
        if forced_reason is not None and role != "admin":
            raise DeskError("only an admin may activate a version the gate refused", 403)
        try:
            entry = await asyncio.to_thread(self.registry.activate, version, force=forced_reason is not None,
                                            forced_by=by, reason=forced_reason)
        except RegistryError as error:
            raise DeskError(str(error)) from None
        await self.bus.publish(TRAINING_TOPIC, {"type": "activated", "version": entry.version})
        return entry.version

    async def rollback(self) -> str:
        try:
            entry = await asyncio.to_thread(self.registry.rollback)
        except RegistryError as error:
            raise DeskError(str(error)) from None
        await self.bus.publish(TRAINING_TOPIC, {"type": "activated", "version": entry.version})
        return entry.version


def _busy(busy: TrainingBusy) -> DeskError:
    """One run at a time, trainings and measurements alike: they share the machine."""
    what = "a measurement" if busy.kind == "measure" else "a training"
    return DeskError(f"{what} is running already (run {busy.run_id}); wait for it to finish")


def models_routes(desk: ModelsDesk, bus: Bus, storage: DatabaseStorage) -> list[web.RouteDef]:
    @trainer_api
    @answering
    async def models(request):
        return await desk.snapshot()

    @trainer_api
    @answering
    async def train(request):
        body = await json_body(request)
        return {"run_id": await desk.train(identity(request).name, bool(body.get("activate", True)))}

    @trainer_api
    @answering
    async def measure(request):
        return {"run_id": await desk.measure(identity(request).name, request.match_info["version"])}

    @trainer_api
    @answering
    async def activate(request):
        body = await json_body(request)
        who = identity(request)
        reason = None
        if body.get("force"):
            if who.role != "admin":
                raise DeskError("only an admin may activate a version the gate refused", 403)
            reason = text_field(body, "reason", 500).strip()
        active = await desk.activate(request.match_info["version"], who.name, who.role, reason)
        await audit.record_in(desk.db, who.name, "model_activated", f"model:{active}", utcnow(),
                              force=bool(body.get("force")))
        return {"active": active}

    @trainer_api
    @answering
    async def rollback(request):
        active = await desk.rollback()
        await audit.record_in(desk.db, identity(request).name, "model_rolled_back", f"model:{active}", utcnow())
        return {"active": active}

    socket = console_socket(bus, storage, TRAINING_TOPIC, TRAINER_ROLES, "the Models page's",
                            lambda request, agent: lambda ws, notices, alive: _push(ws, notices, desk, alive))

    return [
        web.get("/api/training/models", models),
        web.post("/api/training/runs", train),
        web.post(r"/api/training/models/{version:[\w.-]+}/activate", activate),
        web.post(r"/api/training/models/{version:[\w.-]+}/measure", measure),
        web.post("/api/training/models/rollback", rollback),
        web.get("/training/ws", socket),
    ]


async def _push(ws: web.WebSocketResponse, notices, desk: ModelsDesk, alive: Alive) -> None:
    await checked(ws, alive)
    await ws.send_json(await desk.snapshot())
    while not ws.closed:
        await notices.get(timeout=REFRESH_SECONDS)
        await asyncio.sleep(COALESCE_SECONDS)
        while await notices.get(timeout=0.01) is not None:
            pass
        if not ws.closed:
            await checked(ws, alive)
            await ws.send_json(await desk.snapshot())
