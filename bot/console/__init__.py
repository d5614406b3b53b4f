"""The agent console at /console: pages, JSON API and live WebSocket.

Its routes are added to the main app with their own session handling (the rest of the
service never loads a console session). Not an aiohttp sub-app: with aiohttp 3.9 and the
pinned yarl, a prefixed sub-app breaks routing of requests whose Host has a port.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from jinja2 import Environment

from bot.bus import Bus
from bot.client_address import parse_proxies
from bot.console.api import api_routes
from bot.console.desk import Desk
from bot.console.live import live_routes
from bot.console.login import Logins, PasswordChecks
from bot.console.models_api import ModelsDesk, models_routes
from bot.console.privacy_api import privacy_routes
from bot.console.reports_api import reports_routes
from bot.console.reputation import reputation_routes
from bot.console.training_api import training_api_routes
from bot.console.sessions import HOME, DatabaseStorage, LoginForms, with_sessions
from bot.console.views import view_routes
from bot.messages import utcnow
from bot.phrases import Phrasebook, shipped
from bot.settings import Settings, SettingsError
from bot.storage.database import Database
from bot.training.runs import TrainingRunner

PREFIX = "/console"


def console_routes(db: Database, bus: Bus, settings: Settings, templates: Environment,
                   clock: Callable[[], datetime] = utcnow, *, models: ModelsDesk,
                   checks: PasswordChecks, no_push_channels: frozenset[str] = frozenset(),
                   phrases: Phrasebook | None = None) -> list[web.RouteDef]:
    secure = settings.public_url.startswith("https://")
    storage = DatabaseStorage(db, max_age=int(settings.console_session_hours * 3600), secure=secure, bus=bus)
    desk = Desk(db, bus, clock, no_push_channels, phrases or shipped())
    try:
        trusted_proxies = parse_proxies(settings.trusted_proxies)
    except ValueError as error:
        raise SettingsError(str(error)) from None

    async def home(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(HOME)

    routes = [*view_routes(db, Logins(db, checks, bus), storage, LoginForms(db, secure=secure), templates,
                           settings.brand_name, trusted_proxies),
              *api_routes(db, desk), *live_routes(bus, desk, storage), *training_api_routes(db, settings),
              *models_routes(models, bus, storage), *reports_routes(db, settings, clock),
              *privacy_routes(db, settings), *reputation_routes(db, bus, storage, settings, templates, clock)]
    return [web.get(PREFIX, home),
            *(web.route(r.method, PREFIX + r.path, with_sessions(storage, r.handler)) for r in routes)]


def mount_console(app: web.Application, db: Database, bus: Bus, settings: Settings, templates: Environment,
                  clock: Callable[[], datetime] = utcnow, serving: Callable[[], str | None] = lambda: None,
                  no_push_channels: frozenset[str] = frozenset(), phrases: Phrasebook | None = None) -> None:
    runner = TrainingRunner(db, bus, settings, clock)
    models = ModelsDesk(db, bus, settings, runner, serving)
    checks = PasswordChecks(settings.console_login_concurrency)
    app.router.add_routes(console_routes(db, bus, settings, templates, clock, models=models, checks=checks,
                                         no_push_channels=no_push_channels, phrases=phrases))

    async def stop_trainings(_: web.Application) -> None:
        await runner.close()
        checks.close()

    app.on_shutdown.append(stop_trainings)
