"""`GET /metrics`: this process's counts (bot/metrics.py) and, on web processes, the state
of the whole service read from the database, in Prometheus's text format.

Only for a scraper holding METRICS_TOKEN (`Authorization: Bearer ...`); without the
setting the route does not exist (404, like any unknown path), so a service put on the
internet says nothing about its traffic by default.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

from bot.console.auth import ROLES
from bot.inbox import STORAGE_ERRORS
from bot.metrics import PREFIX, REGISTRY
from bot.storage.database import Database
from bot.storage.metrics import ServiceState, read_state

logger = logging.getLogger(__name__)

PATH = "/metrics"


class _Families:
    """Metric families computed before rendering: the database is read asynchronously,
    and prometheus_client's collectors are called synchronously."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _gauge(name: str, documentation: str, value: float | None = None, *, label: str | None = None,
           values: dict[str, int] | None = None) -> GaugeMetricFamily:
    if label is None:
        return GaugeMetricFamily(f"{PREFIX}{name}", documentation, value=value)
    family = GaugeMetricFamily(f"{PREFIX}{name}", documentation, labels=[label])
    for key, count in sorted((values or {}).items()):
        family.add_metric([key], count)
    return family


def state_families(state: ServiceState) -> list[Metric]:
    return [
        _gauge("inbox_backlog", "Accepted customer messages not yet answered, by status "
               "(pending: waiting, or deferred by the sender's rate; processing: being answered).",
               label="status", values=state.inbox_backlog),
        _gauge("inbox_oldest_age_seconds", "Age of the oldest unanswered customer message (0 with none).",
               state.inbox_oldest_age),
        _gauge("outbox_items", "Replies in the outbox not sent yet (pending, sending) or given up on (failed).",
               label="status", values=state.outbox),
        _gauge("outbox_retrying", "Pending replies whose earlier send failed, waiting for another try.",
               state.outbox_retrying),
        _gauge("queue_waiting", "Conversations waiting for a person, by priority band "
               "(public >= 100, high >= 50, raised >= 20, normal).", label="band", values=state.queue_waiting),
        _gauge("queue_oldest_wait_seconds", "How long the longest-waiting conversation has waited (0 with none).",
               state.queue_oldest_wait),
        _gauge("agents_online", "People logged in to the console (an unexpired session), by role.",
               label="role", values={**dict.fromkeys(ROLES, 0), **state.agents_online}),
        _gauge("training_runs", "Training runs started from the console, by outcome.",
               label="outcome", values=state.training_runs),
    ]


def _authorised(request: web.Request, token: bytes) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


def metrics_routes(token: str, db: Database, clock: Callable[[], datetime], *, with_state: bool,
                   model: Callable[[], str | None]) -> list[web.RouteDef]:
    """The route, when a token is set. `with_state`: this process answers the database's
    figures too (web processes); `model`: the version this process answers with, if any."""
    if not token:
        return []
    expected = token.encode()

    async def metrics(request: web.Request) -> web.Response:
        if not _authorised(request, expected):
            return web.json_response({"error": "a valid bearer token (METRICS_TOKEN) is required"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        families: list[Metric] = []
        if with_state:
            families.extend(await _state(db, clock))
        if (version := model()) is not None:
            families.append(InfoMetricFamily(f"{PREFIX}model", "The dialogue model this process answers with.",
                                             value={"version": version}))
        # The classic text format: every Prometheus understands it, and our names need no more.
        body = generate_latest(REGISTRY) + generate_latest(_Families(families))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return [web.get(PATH, metrics)]


async def _state(db: Database, clock: Callable[[], datetime]) -> list[Metric]:
    started = time.perf_counter()
    try:
        async with db.statements() as session:
            state = await read_state(session, clock())
        families, up = state_families(state), 1
    except STORAGE_ERRORS as error:
        # The process's own counts are still worth scraping when the database is away.
        logger.warning("metrics: the database's figures are unavailable: %s", error)
        families, up = [], 0
    return [
        *families,
        _gauge("state_up", "1 when this scrape read the service's state from the database, 0 when it could not.",
               up),
        _gauge("state_read_seconds", "Time this scrape spent reading the service's state from the database.",
               time.perf_counter() - started),
    ]
