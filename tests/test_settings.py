from pathlib import Path

import pytest

from bot.engine import EngineError, read_endpoints
from bot.settings import PROJECT_DIR, Settings, SettingsError, endpoint_variables


def test_defaults_are_the_embedded_set_up():
    settings = Settings.from_mapping({})
    assert settings.is_sqlite
    assert settings.port == 5005
    assert settings.public_url == "http://127.0.0.1:5005"


def test_values_are_converted_and_relative_paths_anchored_at_the_project():
    settings = Settings.from_mapping({"PORT": "6001", "DEMO_ORDERS": "off", "MODEL_PATH": "models/a.tar.gz",
                                      "NEGATIVE_SENTIMENT_THRESHOLD": "-0.4"})
    assert settings.port == 6001
    assert settings.demo_orders is False
    assert settings.model_path == PROJECT_DIR / "models" / "a.tar.gz"
    assert settings.negative_sentiment_threshold == -0.4


def test_a_bad_value_names_its_setting():
    with pytest.raises(SettingsError, match="PORT"):
        Settings.from_mapping({"PORT": "eighty"})


def test_endpoints_for_sqlite_use_the_same_database_and_in_memory_locks():
    settings = Settings.from_mapping({"DATABASE_URL": "sqlite+aiosqlite:////tmp/x.db"})
    endpoints = read_endpoints(PROJECT_DIR / "endpoints.yml", endpoint_variables(settings))
    assert endpoints["tracker_store"] == {"type": "SQL", "dialect": "sqlite", "db": "/tmp/x-tracker.db"}
    assert endpoints["lock_store"]["type"] == "in_memory"
    assert "event_broker" not in endpoints and "action_endpoint" not in endpoints


def test_endpoints_for_scale_out_use_postgres_redis_and_rabbitmq():
    settings = Settings.from_mapping({
        "DATABASE_URL": "postgresql+asyncpg://app:secret@db.internal:5433/assistant",
        "REDIS_URL": "redis://127.0.0.1:6380/2", "RABBITMQ_URL": "amqp://u:p@127.0.0.1:5672/",
    })
    endpoints = read_endpoints(PROJECT_DIR / "endpoints.yml", endpoint_variables(settings))
    assert endpoints["tracker_store"] == {"type": "SQL", "dialect": "postgresql", "url": "db.internal",
                                          "port": "5433", "db": "assistant", "username": "app",
                                          "password": "secret"}
    assert endpoints["lock_store"] == {"type": "redis", "url": "127.0.0.1", "port": "6380", "db": "2",
                                       "key_prefix": "assistant"}
    assert endpoints["event_broker"]["type"] == "pika"
    assert endpoints["event_broker"]["username"] == "u"
    assert endpoints["event_broker"]["queues"] == ["assistant_events"]


def test_the_event_queue_is_named_by_its_setting():
    settings = Settings.from_mapping({"RABBITMQ_URL": "amqp://u:p@127.0.0.1:5672/", "RABBITMQ_QUEUE": "crm_events"})
    endpoints = read_endpoints(PROJECT_DIR / "endpoints.yml", endpoint_variables(settings))
    assert endpoints["event_broker"]["queues"] == ["crm_events"]


@pytest.mark.parametrize("password", [
    'pa"ss', "it's", "a: b", "x #not a comment", "line\nbreak", "back\\slash", "{[*&!|>%@`",
    '"\nevent_broker:\n  type: pika\n  url: "attacker.example',
], ids=["double-quote", "single-quote", "colon", "hash", "newline", "backslash", "yaml-signs", "injection"])
def test_a_password_with_yaml_signs_reaches_the_stores_as_it_is(password):
    from urllib.parse import quote

    given = quote(password, safe="")
    settings = Settings.from_mapping({"DATABASE_URL": f"postgresql+asyncpg://app:{given}@db.internal:5433/assistant",
                                      "REDIS_URL": f"redis://:{given}@127.0.0.1:6380/2"})
    endpoints = read_endpoints(PROJECT_DIR / "endpoints.yml", endpoint_variables(settings))
    assert endpoints["tracker_store"]["password"] == password
    assert endpoints["lock_store"]["password"] == password
    assert endpoints["tracker_store"]["username"] == "app" and endpoints["lock_store"]["port"] == "6380"
    assert "event_broker" not in endpoints  # nothing was added to the file


def test_a_value_set_in_the_environment_is_filled_in_as_it_is_too():
    variables = endpoint_variables(Settings.from_mapping({}), {"ACTION_ENDPOINT_URL": 'http://a/"\n# x: y'})
    assert read_endpoints(PROJECT_DIR / "endpoints.yml", variables)["action_endpoint"] == {
        "url": 'http://a/"\n# x: y'}


def test_an_environment_variable_overrides_a_derived_endpoint_value():
    variables = endpoint_variables(Settings.from_mapping({}), {"ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook"})
    endpoints = read_endpoints(PROJECT_DIR / "endpoints.yml", variables)
    assert endpoints["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}


def test_an_unknown_placeholder_is_a_clear_error(tmp_path: Path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: ${NOPE}\n")
    with pytest.raises(EngineError, match="NOPE"):
        read_endpoints(endpoints, {})


def test_a_relative_sqlite_path_is_anchored_at_the_project():
    settings = Settings.from_mapping({"DATABASE_URL": "sqlite+aiosqlite:///var/x.db"})
    assert settings.database_url == f"sqlite+aiosqlite:///{PROJECT_DIR / 'var' / 'x.db'}"


def test_env_example_documents_every_setting():
    import re
    from dataclasses import fields

    documented = {line.split("=")[0] for line in (PROJECT_DIR / ".env.example").read_text().splitlines()
                  if re.match(r"^[A-Z_]+=", line)}
    assert documented == {f.name.upper() for f in fields(Settings)}


@pytest.mark.parametrize("given, database_url, sync_url", [
    ("postgres://app:secret@db.internal:5433/assistant",
     "postgresql+asyncpg://app:secret@db.internal:5433/assistant",
     "postgresql+psycopg2://app:secret@db.internal:5433/assistant"),
    ("postgresql://app:secret@db.internal/assistant?ssl=require",
     "postgresql+asyncpg://app:secret@db.internal/assistant?ssl=require",
     "postgresql+psycopg2://app:secret@db.internal/assistant?ssl=require"),
    ("PostgreSQL://app@db.internal/assistant", "postgresql+asyncpg://app@db.internal/assistant",
     "postgresql+psycopg2://app@db.internal/assistant"),
    ("postgresql+psycopg2://app@db.internal/assistant", "postgresql+asyncpg://app@db.internal/assistant",
     "postgresql+psycopg2://app@db.internal/assistant"),
    ("postgresql+asyncpg://app@db.internal/assistant", "postgresql+asyncpg://app@db.internal/assistant",
     "postgresql+psycopg2://app@db.internal/assistant"),
    # Only the scheme changes: a password that looks like a driver is left alone.
    ("postgresql://app:x+asyncpg@db.internal/assistant", "postgresql+asyncpg://app:x+asyncpg@db.internal/assistant",
     "postgresql+psycopg2://app:x+asyncpg@db.internal/assistant"),
    ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("sqlite:///var/x.db", f"sqlite+aiosqlite:///{PROJECT_DIR / 'var' / 'x.db'}",
     f"sqlite:///{PROJECT_DIR / 'var' / 'x.db'}"),
])
def test_a_database_url_without_the_async_driver_gets_it(given, database_url, sync_url):
    settings = Settings.from_mapping({"DATABASE_URL": given})
    assert (settings.database_url, settings.sync_database_url) == (database_url, sync_url)


def test_the_tracker_store_reads_a_driverless_postgres_url():
    settings = Settings.from_mapping({"DATABASE_URL": "postgres://app:secret@db.internal:5433/assistant"})
    variables = endpoint_variables(settings)
    assert (variables["TRACKER_DIALECT"], variables["TRACKER_HOST"], variables["TRACKER_DB"]) == (
        "postgresql", "db.internal", "assistant")


def test_on_sqlite_the_tracker_has_a_file_of_its_own_beside_the_history():
    variables = endpoint_variables(Settings.from_mapping({"DATABASE_URL": "sqlite:////srv/bot/assistant.db"}))
    assert (variables["TRACKER_DIALECT"], variables["TRACKER_DB"]) == ("sqlite", "/srv/bot/assistant-tracker.db")


async def test_a_driverless_url_opens_the_database_through_both_engines(database_url):
    """What start-up does with the URL: the async engine for the service, the sync one for
    Alembic and Rasa's tracker store. Both connect, given the URL as a host would give it."""
    from sqlalchemy import create_engine, text

    from bot.storage.database import Database

    scheme, _, rest = database_url.partition("://")
    driverless = f"{'sqlite' if scheme.startswith('sqlite') else 'postgres'}://{rest}"
    settings = Settings.from_mapping({"DATABASE_URL": driverless})
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.close()
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_the_service_runs_on_uvloop_unless_turned_off():
    import asyncio

    import uvloop

    from bot.cli import new_event_loop

    for settings, kind in ((Settings.from_mapping({}), uvloop.Loop),
                           (Settings.from_mapping({"UVLOOP": "false"}), asyncio.BaseEventLoop)):
        loop = new_event_loop(settings.uvloop)
        try:
            assert isinstance(loop, kind)
            assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
        finally:
            loop.close()
