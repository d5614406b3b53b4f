"""The composition root: every part is built here, once, and handed what it needs."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web

from bot import metrics
from bot.action_package import ActionResources, check_importable, load_actions
from bot.bus import Bus, LocalBus
from bot.client_address import parse_proxies
from bot.console import mount_console
from bot.engine import DialogueEngine, EngineError, read_endpoints
from bot.http import HttpClient
from bot.inbox import Inbox
from bot.language import language_detector
from bot.memory import freeze_long_lived
from bot.messages import utcnow
from bot.metrics_endpoint import metrics_routes
from bot.model_loading import ModelLoading
from bot.outbox import OutboxSender
from bot.phrases import Phrasebook
from bot.ratelimit import RateLimiter
from bot.redis_bus import RedisBus
from bot.reputation.watch import ReputationWatch
from bot.reputation.webhook import AlertWebhook
from bot.sentiment import SentimentScorer
from bot.settings import Settings, endpoint_variables
from bot.storage import inbox as inbox_store
from bot.storage.database import Database
from bot.storage.orders import OrderRepository
from bot.training.registry import serving_model
from bot.training.watcher import follow_active_model
from bot.web.pages import STATIC_DIR, security_headers, template_environment
from bot.webchat import webchat_routes
from bot.webhooks import channel_routes, rest_routes
from bot.worker import DialogueWorker
from channels.base import Channel
from channels.registry import build_platform_channels, missing_settings
from channels.rest import RestChannel
from channels.webchat import WebchatChannel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Roles:
    """What this process does: `bot run` does both; `bot web` / `bot worker` split them."""

    web: bool = True
    worker: bool = True
    # Only safe when this is the sole worker (the embedded single-process mode).
    reclaim_on_start: bool = False
    # The model in a child process (bot/engine_process.py) rather than a thread of this one.
    engine_process: bool = False


DB_KEY = web.AppKey("db", Database)
BUS_KEY = web.AppKey("bus", object)
SETTINGS_KEY = web.AppKey("settings", Settings)
# A worker's model: loading, or ready with its DialogueEngine (or an EngineProcess standing in for one).
LOADING_KEY = web.AppKey("model_loading", ModelLoading)


def create_app(settings: Settings, roles: Roles = Roles(), *, bus: Bus | None = None,
               clock: Callable[[], datetime] = utcnow) -> web.Application:
    app = web.Application(client_max_size=max(settings.max_body_bytes, settings.platform_max_body_bytes),
                          middlewares=[security_headers(settings.public_url)])
    db = Database(settings.database_url)
    bus = bus or (RedisBus(settings.redis_url) if settings.redis_url else LocalBus())
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    app[BUS_KEY] = bus
    if roles.worker:
        app[LOADING_KEY] = ModelLoading()
    limiter = (RateLimiter(settings.sender_rate_per_minute, settings.sender_burst)
               if settings.sender_rate_per_minute > 0 else None)
    address_limiter = (RateLimiter(settings.address_rate_per_minute, settings.address_burst)
                       if settings.address_rate_per_minute > 0 else None)
    proxies = parse_proxies(settings.trusted_proxies)
    # Read once, before anything starts: a brand's file that cannot be used stops the start.
    phrases = Phrasebook.load(settings.phrases_file or None)
    if roles.worker and not settings.action_endpoint_url:
        # A misspelt package stops the start here, not once the model has loaded.
        check_importable(settings.actions_package)
    inbox = Inbox(db, bus, clock, settings.poll_interval, limiter, address_limiter)
    rest = RestChannel(settings.max_text_chars, settings.rest_auth_token)
    webchat = WebchatChannel(bus, settings.max_text_chars)
    http = HttpClient(settings.http_timeout)
    channels: dict[str, Channel] = {rest.name: rest, webchat.name: webchat,
                                    **build_platform_channels(settings, http, bus)}

    async def database(app: web.Application) -> AsyncIterator[None]:
        if isinstance(bus, RedisBus):
            await bus.start()
        if roles.reclaim_on_start:
            async with db.session() as session:
                reclaimed = await inbox_store.reset_claims(session)
            if reclaimed:
                logger.info("resuming %d message(s) accepted before the last stop", reclaimed)
        yield
        await http.close()
        await db.close()
        await bus.close()

    app.cleanup_ctx.append(database)

    if roles.worker:
        app.cleanup_ctx.append(_worker_context(settings, roles, db, bus, channels, clock, app[LOADING_KEY], phrases))
        app.cleanup_ctx.append(_reputation_context(settings, db, bus, http, clock))

    if roles.web:
        templates = template_environment()
        app.router.add_routes(rest_routes(rest, inbox, settings.rest_reply_timeout, settings.max_body_bytes,
                                          proxies))
        app.router.add_routes(webchat_routes(webchat, inbox, db, bus, templates, settings.brand_name,
                                             settings.max_body_bytes, proxies))
        for channel in channels.values():
            if channel.name in (rest.name, webchat.name):
                continue
            if hasattr(channel, "attach"):
                # A channel with its own transport (socket.io) mounts itself.
                channel.attach(app, inbox, db)
            else:
                app.router.add_routes(channel_routes(channel, inbox, settings.platform_max_body_bytes, proxies))
        mount_console(app, db, bus, settings, templates, clock,
                      serving=lambda: _serving(app), phrases=phrases,
                      # Replies in band only: nothing can reach those customers afterwards.
                      no_push_channels=frozenset(name for name, c in channels.items()
                                                 if getattr(c, "replies_in_band", False)))
        app.router.add_static("/static", STATIC_DIR)
    app.router.add_get("/health", _health(settings, roles, channels))
    # Every process has its own /metrics (counts are per process); web processes add the
    # database's figures, which any of them answers alike (docs/deployment.md, Metrics).
    app.router.add_routes(metrics_routes(
        settings.metrics_token, db, clock, with_state=roles.web,
        model=lambda: _serving(app)))
    # After the contexts above have started; a worker freezes again once its model is loaded.
    app.on_startup.append(_freeze_long_lived)
    return app


async def _freeze_long_lived(_app: web.Application) -> None:
    freeze_long_lived()


def _serving(app: web.Application) -> str | None:
    """The model this process answers with; None in a web process, or while it loads."""
    loading = app.get(LOADING_KEY)
    return loading.engine.model_name if loading is not None and loading.engine is not None else None


def _worker_context(settings: Settings, roles: Roles, db: Database, bus: Bus, channels: dict[str, Channel],
                    clock: Callable[[], datetime], loading: ModelLoading, phrases: Phrasebook):
    async def worker(app: web.Application) -> AsyncIterator[None]:
        model = serving_model(settings.models_dir, settings.model_path)
        if model is None:
            raise EngineError(f"no trained model in {settings.models_dir}: run `python -m bot train` first")
        if roles.engine_process:
            from bot.engine_process import EngineProcess

            engine = EngineProcess(model, niceness=settings.worker_niceness)
        else:
            engine = build_engine(settings, model)
        # Replies the model already made, and the agents' replies, need no model.
        tasks = [asyncio.create_task(OutboxSender(db, channels, bus, settings, clock).run(), name="outbox-sender")]
        if settings.retention_days > 0:
            from bot.privacy.retention import run_retention

            tasks.append(asyncio.create_task(run_retention(db, settings, clock, settings.retention_interval_seconds),
                                             name="retention"))

        async def answer_when_loaded() -> None:
            # The port opens meanwhile: the inbox keeps what arrives until the worker claims it.
            try:
                await loading.load(engine)
            except Exception:
                logger.exception("the dialogue model %s could not be loaded; stopping (the messages accepted "
                                 "are kept and answered after the next start)", model.name)
                raise web.GracefulExit() from None  # run_app stops as on Ctrl-C; the CLI exits with 1
            if not roles.engine_process:
                freeze_long_lived()  # the model lives in this process: as long as the process
            work = [
                asyncio.create_task(DialogueWorker(
                    db, engine, bus, settings, SentimentScorer(), clock,
                    in_band_channels=frozenset(name for name, c in channels.items()
                                               if getattr(c, "replies_in_band", False)),
                    language=await asyncio.to_thread(language_detector, settings),
                    phrases=phrases).run(),
                                    name="dialogue-worker"),
            ]
            if settings.model_path is None:
                # MODEL_PATH pins a model; otherwise follow the registry's activations.
                work.append(asyncio.create_task(
                    follow_active_model(engine, settings.models_dir, settings.model_poll_interval, bus),
                    name="model-watcher"))
            for task in work:
                task.add_done_callback(_log_crash)
            tasks.extend(work)

        for task in tasks:
            task.add_done_callback(_log_crash)
        tasks.append(asyncio.create_task(answer_when_loaded(), name="model-loading"))
        yield
        for task in reversed(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.stop()

    return worker


def _reputation_context(settings: Settings, db: Database, bus: Bus, http: HttpClient,
                        clock: Callable[[], datetime]):
    """The reputation watch and the alert webhook run beside the dialogue workers: every
    worker process looks, and the alerts table lets one of them raise each alert."""
    async def reputation(app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(ReputationWatch(db, bus, settings, clock, on_alert=metrics.record_alert).run(), name="reputation-watch")]
        if settings.alert_webhook_url:
            tasks.append(asyncio.create_task(AlertWebhook(db, bus, http, settings, clock).run(),
                                             name="alert-webhook"))
        for task in tasks:
            task.add_done_callback(_log_crash)
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return reputation


def build_engine(settings: Settings, model: Path) -> DialogueEngine:
    """The Rasa engine with the endpoints and the custom actions of these settings."""
    actions: list = []
    if not settings.action_endpoint_url:
        # The actions' database is used only on the engine's own event loop.
        actions = load_actions(settings.actions_package,
                               ActionResources(order_lookup=OrderRepository(Database(settings.database_url))))
    return DialogueEngine(model, read_endpoints(settings.endpoints_file, endpoint_variables(settings)), actions)


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s stopped", task.get_name(), exc_info=task.exception())


def _health(settings: Settings, roles: Roles, channels: dict[str, Channel]):
    """Anyone may ask whether the service is up; only the holder of HEALTH_TOKEN is told
    the model, the backlog and which settings are missing (a map for an attacker)."""

    async def health(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization")
        if given is not None and not _health_token_ok(given, settings.health_token):
            return web.json_response({"error": "wrong health token" if settings.health_token
                                      else "HEALTH_TOKEN is not set: the details are given to nobody"}, status=401)
        db = request.app[DB_KEY]
        try:
            async with db.session() as session:
                backlog = await inbox_store.count_unfinished(session)
            database = "ok"
        except Exception as error:  # the check exists to report exactly this
            backlog, database = None, f"unavailable: {error.__class__.__name__}"
        status = 200 if database == "ok" else 503
        loading = request.app.get(LOADING_KEY)
        # Still 200 while the model loads: messages are accepted (and kept) meanwhile, so a
        # load balancer should send them here; "loading" tells a reader why none is answered yet.
        word = "degraded" if database != "ok" else (
            "loading" if loading is not None and loading.state != "ready" else "ok")
        if given is None:
            return web.json_response({"status": word}, status=status)
        model = _serving(request.app) or _model_on_disk(settings)
        body = {
            "status": word,
            "model": model,
            "database": database,
            "backlog": backlog,
            "roles": [name for name, on in (("web", roles.web), ("worker", roles.worker)) if on],
            "channels": {name: ("configured" if not missing_settings(channel)
                                else f"not configured: set {', '.join(missing_settings(channel))}")
                         for name, channel in sorted(channels.items())},
        }
        return web.json_response(body, status=status)

    return health


def _health_token_ok(authorization: str, token: str) -> bool:
    scheme, _, given = authorization.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _model_on_disk(settings: Settings) -> str | None:
    model = serving_model(settings.models_dir, settings.model_path)
    return model.name if model else None
