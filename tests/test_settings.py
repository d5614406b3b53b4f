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
    assert endpoints["tracker_store"] == {"type": "SQL", "dialect": "sqlite", "db": "/tmp/x.db"}
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
