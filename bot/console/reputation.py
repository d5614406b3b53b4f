"""The supervisors' reputation watch in the console: the Reputation page (public sentiment
per channel, hourly and daily, the most negative recent posts, the alerts), the alerts'
JSON, and the WebSocket that keeps the alert banner of every console page live."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from jinja2 import Environment

from bot.bus import ALERTS_TOPIC, Bus
from bot.console.auth import SUPERVISOR_ROLES
from bot.console.live import REFRESH_SECONDS, Alive, checked, console_socket
from bot.console.sessions import DatabaseStorage, csrf_token, identity, login_required
from bot.console.views import nav_items
from bot.reputation import charts
from bot.reputation.watch import NEGATIVE_SPIKE, QUEUE_OVERLOAD, VOLUME_SPIKE
from bot.settings import Settings
from bot.storage import reputation as store
from bot.storage.database import Database
from bot.storage.models import Alert
from bot.web.pages import render


TITLES = {NEGATIVE_SPIKE: "Negative posts spike", VOLUME_SPIKE: "Public posts spike",
          QUEUE_OVERLOAD: "Queue overloaded"}
HOURS_SHOWN = 48
DAYS_SHOWN = 30
WORST_POSTS_DAYS = 7


def alert_json(alert: Alert, posts: int = 5) -> dict[str, Any]:
    return {"id": alert.id, "kind": alert.kind, "title": TITLES.get(alert.kind, alert.kind),
            "summary": alert.summary, "raised_at": alert.raised_at.isoformat(),
            "ended_at": alert.ended_at.isoformat() if alert.ended_at else None,
            "figures": alert.figures, "posts": alert.posts[:posts], "post_count": len(alert.posts),
            "webhook_status": alert.webhook_status}


def reputation_routes(db: Database, bus: Bus, storage: DatabaseStorage, settings: Settings,
                      templates: Environment, clock: Callable[[], datetime]) -> list[web.RouteDef]:
    supervisors_page = login_required(SUPERVISOR_ROLES, api=False)
    supervisors_api = login_required(SUPERVISOR_ROLES, api=True)

    async def active() -> dict[str, Any]:
        async with db.statements() as session:
            alerts = await store.active_alerts(session)
        return {"type": "alerts", "active": [alert_json(a) for a in alerts]}

    @supervisors_page
    async def page(request: web.Request) -> web.Response:
        who = identity(request)
        session = await get_session(request)
        return render(templates, "console/reputation.html", brand_name=settings.brand_name, agent=who,
                      nav=nav_items(who), section="reputation", csrf=csrf_token(session),
                      **await _page_context(db, settings, clock()))

    @supervisors_api
    async def alerts(request: web.Request) -> web.Response:
        async with db.statements() as session:
            recent = await store.recent_alerts(session)
        return web.json_response({**await active(), "recent": [alert_json(a, posts=20) for a in recent]})

    socket = console_socket(bus, storage, ALERTS_TOPIC, SUPERVISOR_ROLES, "the alert banner's",
                            lambda request, agent: lambda ws, notices, alive: _push(ws, notices, active, alive))

    return [web.get("/reputation", page), web.get("/api/alerts", alerts), web.get("/alerts/ws", socket)]


async def _push(ws: web.WebSocketResponse, notices, active, alive: Alive) -> None:
    while not ws.closed:
        await checked(ws, alive)
        await ws.send_json(await active())
        await notices.get(timeout=REFRESH_SECONDS)
        # Raised by one process, ended by another: take the latest state after a burst.
        while await notices.get(timeout=0.05) is not None:
            pass


async def _page_context(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    negative = settings.alert_negative_score
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    today = this_hour.replace(hour=0)
    hours = [this_hour - timedelta(hours=n) for n in range(HOURS_SHOWN - 1, -1, -1)]
    days = [today - timedelta(days=n) for n in range(DAYS_SHOWN - 1, -1, -1)]
    async with db.statements() as session:
        hourly = await store.sentiment_series(session, hours[0] - timedelta(microseconds=1), "hour", negative)
        daily = await store.sentiment_series(session, days[0] - timedelta(microseconds=1), "day", negative)
        worst = await store.negative_posts(session, now - timedelta(days=WORST_POSTS_DAYS), now, negative, 20)
        active = await store.active_alerts(session)
        recent = await store.recent_alerts(session)
    channels = sorted({p.channel for p in daily} | {p.channel for p in hourly})
    return {
        "channels": [(c, f"series-{n % 6}") for n, c in enumerate(channels)],
        "periods": [
            ("Last 48 hours, per hour (UTC)", _charts(hourly, hours, channels, lambda b: b.strftime("%a %H:00"))),
            ("Last 30 days, per day (UTC)", _charts(daily, days, channels, lambda b: b.strftime("%d %b"))),
        ],
        "totals": _totals(daily, channels),
        "worst": worst, "worst_days": WORST_POSTS_DAYS,
        "active": [alert_json(a, posts=20) for a in active], "recent": [alert_json(a) for a in recent],
        "negative_score": negative,
    }


def _charts(points, buckets, channels, bucket_label) -> list[charts.Chart]:
    return [
        charts.chart("Public posts", points, buckets, channels, charts.volume, 0.0, None,
                     lambda v: f"{v:g}", bucket_label, zero_missing=True),
        charts.chart("Share negative", points, buckets, channels, charts.share_negative, 0.0, 1.0,
                     lambda v: f"{round(100 * v)}%", bucket_label),
        charts.chart("Mean sentiment (VADER compound)", points, buckets, channels, charts.mean_score, -1.0, 1.0,
                     lambda v: f"{v:+.2f}", bucket_label),
    ]


def _totals(daily, channels) -> list[dict[str, Any]]:
    rows = []
    for channel in channels:
        points = [p for p in daily if p.channel == channel]
        volume = sum(p.volume for p in points)
        scored = [(p.mean, p.volume) for p in points if p.mean is not None]
        weight = sum(v for _, v in scored)
        rows.append({"channel": channel, "volume": volume, "negative": sum(p.negative for p in points),
                     "share": (sum(p.negative for p in points) / volume) if volume else None,
                     "mean": (sum(m * v for m, v in scored) / weight) if weight else None})
    return rows
