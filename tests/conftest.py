"""Shared fixtures: both database backends, the cached demo model, the running service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from tests.support.model import cached_model
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def model() -> Path:
    return cached_model()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
async def db(database_url) -> AsyncIterator[Database]:
    settings = Settings.from_mapping({"DATABASE_URL": database_url})
    upgrade(settings.sync_database_url)
    database = Database(database_url)
    yield database
    await database.close()


def service_env(database_url: str, model: Path, **extra: str) -> dict[str, str]:
    # No first-start admin account (and its printed password) unless a test asks for it.
    return {"DATABASE_URL": database_url, "MODEL_PATH": str(model), "DEMO_ORDERS": "true",
            "POLL_INTERVAL": "0.2", "CONSOLE_FIRST_ADMIN": "false", **extra}


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, model, tmp_path_factory) -> Iterator[ServiceProcess]:
    """One running service per backend for a whole test module; tests use distinct senders."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('svc') / 'assistant.db'}"
        yield from _running(service_env(url, model))
    else:
        with fresh_postgres_database() as url:
            yield from _running(service_env(url, model))


def _running(env: dict[str, str]) -> Iterator[ServiceProcess]:
    process = ServiceProcess(env)
    try:
        # Stopped even when start-up itself is interrupted (a timeout), so none is left running.
        yield process.start()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def fake_platform():
    """A recording fake of a platform's API on loopback, for a whole test module."""
    from tests.support.fake_platform import FakePlatform

    server = FakePlatform().start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def start_service(request, model, tmp_path_factory):
    """Start the real service with extra settings, on each backend: `start_service(KEY="value")`."""
    started: list[ServiceProcess] = []
    databases = []

    def start(command: str = "run", **env: str) -> ServiceProcess:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('svc') / 'assistant.db'}"
        else:
            context = fresh_postgres_database()
            url = context.__enter__()
            databases.append(context)
        process = ServiceProcess(service_env(url, model, **env), command=command)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
    for context in databases:
        context.__exit__(None, None, None)
