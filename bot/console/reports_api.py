"""The Reports page's JSON: GET /console/api/reports?range=7d (or since=&until=), &channel=.

Supervisors and admins only; the figures are bot/reports.py's, the same the CLI prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from bot.console.api import answering, supervisor_api
from bot.console.desk import DeskError
from bot.reports import PeriodError, ReportSettings, build_report, period
from bot.settings import Settings
from bot.storage.database import Database

CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def reports_routes(db: Database, settings: Settings, clock: Callable[[], datetime]) -> list[web.RouteDef]:
    config = ReportSettings.from_settings(settings)

    @supervisor_api
    @answering
    async def report(request: web.Request):
        query = request.query
        channel = query.get("channel") or None
        if channel is not None and not CHANNEL_NAME.match(channel):
            raise DeskError("'channel' must be a channel's name, like webchat", 400)
        now = clock()
        try:
            span = period(query.get("since") or None, query.get("until") or None, settings.business_timezone, now,
                          query.get("range") or None)
        except PeriodError as error:
            raise DeskError(str(error), 400) from error
        return (await build_report(db, config, span, channel, now)).to_json()

    return [web.get("/api/reports", report)]
