"""Settings, read once from the environment and `.env`, then passed in everywhere.

`Settings.from_mapping` takes its source as an argument, so tests build settings from a
plain dict; only `load()` looks at the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

PROJECT_DIR = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names it."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _default_database_url() -> str:
    return f"sqlite+aiosqlite:///{PROJECT_DIR / 'var' / 'assistant.db'}"


# The service's engine is asynchronous. Hosting providers and most docs give URLs without
# a driver ("postgres://" is not even a dialect SQLAlchemy knows), and Alembic set-ups the
# synchronous one: each means the same database through the async driver.
ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}
# And back, for the synchronous clients (Alembic, Rasa's SQLTrackerStore).
SYNC_DRIVERS = {"postgresql+asyncpg": "postgresql+psycopg2", "sqlite+aiosqlite": "sqlite"}


def _with_driver(url: str, drivers: Mapping[str, str]) -> str:
    """The URL with its scheme swapped by `drivers`; only the scheme, never the password."""
    scheme, separator, rest = url.partition("://")
    driver = drivers.get(scheme.lower()) if separator else None
    return f"{driver}://{rest}" if driver else url


@dataclass(frozen=True)
class Settings:
    # Each field maps to the upper-case environment variable of the same name.
    database_url: str = field(default_factory=_default_database_url)
    host: str = "127.0.0.1"
    port: int = 5005
    public_url: str = ""
    log_level: str = "INFO"
    brand_name: str = "Northwind Outfitters"

    models_dir: Path = PROJECT_DIR / "models"
    model_path: Path | None = None
    endpoints_file: Path = PROJECT_DIR / "endpoints.yml"
    # The Rasa project trainers edit and train (tests point these at a copy).
    data_dir: Path = PROJECT_DIR / "data"
    domain_file: Path = PROJECT_DIR / "domain.yml"
    config_file: Path = PROJECT_DIR / "config.yml"
    # A new model is refused when its held-out F1 falls more than this below the active one's.
    gate_tolerance: float = 0.05
    # Trainings started from the console run at this `nice` level, so answers stay fast.
    training_niceness: int = 10
    # How often the service checks the model registry for a newly activated model (seconds).
    model_poll_interval: float = 3.0
    # Empty: custom actions run inside the service; a URL: an external action server.
    action_endpoint_url: str = ""
    # The Python package whose actions run inside the service (found as `rasa run actions
    # --actions <package>` finds them: bot/action_package.py); unused with an action server.
    actions_package: str = "actions"
    redis_url: str = ""
    rabbitmq_url: str = ""
    # The queue Rasa's event broker declares (durable) and fills with every tracker event.
    rabbitmq_queue: str = "assistant_events"

    # Messages under this NLU confidence are collected for the trainers' review.
    review_confidence_threshold: float = 0.6
    # VADER compound score at or below which a message counts as strongly negative.
    negative_sentiment_threshold: float = -0.6
    demo_orders: bool = True
    # Languages told apart in customers' messages (ISO 639-1), the bot's own first. A message
    # clearly in another one goes to a person at once, and the service's fixed messages
    # (hand-over, wait, hours, rating) are sent in it where bot/phrases.yml or PHRASES_FILE
    # has them (bot/language.py). About 30 MB of memory per language in each worker; one
    # language only: no detection.
    customer_languages: str = "en,es,fr,de,pt,it"
    # A brand's own fixed messages, by language, in bot/phrases.yml's shape (added to it).
    phrases_file: str = ""
    # Hand-over in Rasa's own vocabulary, for an assistant moved in unchanged (comma-separated
    # names): the model predicting one of these intents, or running one of these actions
    # (even a plain utterance, or one unknown to this service), hands the conversation to a
    # person, as do an action returning ConversationPaused and the custom payload
    # {"handoff": {"reason": ...}} (bot/handoff.py, requested_by_model).
    handoff_intents: str = "request_human,human_handoff"
    handoff_actions: str = "action_handoff,action_human_handoff"

    # The agent console (bot/console/). Business hours are told to customers handed to a
    # person: "Mon-Fri 09:00-18:00; Sat 10:00-14:00" in BUSINESS_TIMEZONE (IANA name).
    # The demo brand's: utter_opening_hours says the same.
    business_hours: str = "Mon-Fri 09:00-18:00; Sat 10:00-16:00"
    business_timezone: str = "Europe/London"
    # On a database without an admin account, `run`/`web` create `admin` and print its password once.
    console_first_admin: bool = True
    console_session_hours: float = 12.0
    # Reports (bot/reports.py): the share of hand-overs a person first answered within this
    # many minutes of business hours.
    first_response_target: float = 15.0

    # `GET /health` answers anyone only {"status": ...}; the details (model, backlog, which
    # settings each channel lacks) need `Authorization: Bearer <HEALTH_TOKEN>`. Empty: never.
    health_token: str = ""
    # Password checks (argon2, ~50 ms of CPU and 64 MiB each) running at once in a process;
    # more logins wait their turn, so a flood of them cannot take the cores from webhooks.
    console_login_concurrency: int = 2

    max_body_bytes: int = 512 * 1024
    # Platforms batch: one Meta delivery may carry up to 1,000 updates, several MB. A 413
    # would be retried and could get the webhook disabled, so their routes allow more.
    platform_max_body_bytes: int = 8 * 1024 * 1024
    max_text_chars: int = 4096
    rest_reply_timeout: float = 30.0
    # Messages a worker has in flight. Its model answers one at a time; four keep it busy
    # while the others' statements run, and more only queue up and come due together,
    # holding up the webhooks' acknowledgements in `bot run` (p99 about 20 ms at 8, 10 to
    # 13 at 4, the same throughput: docs/performance.md).
    worker_concurrency: int = 4
    # Added to the CPU niceness of a `bot worker` process: when web and worker processes
    # share cores, the model's CPU work yields to accepting webhooks and serving agents.
    worker_niceness: int = 10
    # `bot run` answers with the model in a process of its own (bot/engine_process.py), so
    # the model and the service use two cores and webhooks are not held up by the model.
    engine_process: bool = True
    # The service's event loop is uvloop's (libuv): its socket and timer work costs less
    # CPU than asyncio's own loop (about 5% of the service's CPU per message in `bot run`).
    uvloop: bool = True
    inbox_lease_seconds: float = 60.0
    # Per sender (conversation), at acceptance: `sender_burst` messages at once, then this
    # many a minute (0: no limit). REST/web chat get 429 over it; platform webhooks are
    # stored and deferred to the sender's next slot (bot/ratelimit.py).
    sender_rate_per_minute: float = 30.0
    sender_burst: int = 10
    poll_interval: float = 0.5
    outbox_max_attempts: int = 8
    outbox_backoff_base: float = 1.0
    outbox_backoff_max: float = 300.0
    http_timeout: float = 10.0

    # Privacy (bot/privacy/): conversations closed more than this many days ago are erased
    # in the background (0: kept), this many per transaction, a pass every interval.
    retention_days: int = 0
    retention_batch: int = 50
    retention_interval_seconds: float = 3600.0

    # Platforms. A channel whose credentials are empty refuses its webhook with 403.
    # Every API base URL is a setting, so tests point them at fake servers on loopback.
    meta_app_secret: str = ""
    meta_verify_token: str = ""
    meta_page_access_token: str = ""
    meta_page_id: str = ""
    instagram_account_id: str = ""
    meta_graph_url: str = "https://graph.facebook.com/v19.0"
    # Hide abusive comments on the brand's page through the API (they are flagged anyway).
    hide_abusive_comments: bool = False
    whatsapp_access_token: str = ""
    whatsapp_phone_number_id: str = ""
    twitter_consumer_secret: str = ""
    twitter_access_token: str = ""
    twitter_user_id: str = ""
    twitter_api_url: str = "https://api.twitter.com"
    telegram_bot_token: str = ""
    telegram_secret_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    # socket.io for chat widgets built for Rasa (rasa-webchat): off unless enabled; the
    # origins of the pages allowed to connect ("*" or a comma-separated list; "" = no check and
    # no CORS headers, as Rasa without --cors: a widget on another site cannot connect).
    socketio_enabled: bool = False
    socketio_cors_origins: str = ""

    # Prometheus metrics at GET /metrics, for a scraper sending `Authorization: Bearer <token>`;
    # empty: no /metrics route at all (docs/deployment.md, Metrics).
    metrics_token: str = ""
    # Open channels (REST, web chat, socket.io, callback), whose clients pick their own
    # sender ids: limits per client address, which rotating ids does not get around.
    # Comma-separated IPs/CIDRs of the operator's reverse proxies, whose X-Forwarded-For is
    # believed (bot/client_address.py); empty: the peer of the connection is the client.
    trusted_proxies: str = ""
    # Messages per minute from one address after a burst of `address_burst` (0: no limit).
    # Generous: an office behind one NAT address shares it.
    address_rate_per_minute: float = 120.0
    address_burst: int = 60
    # Conversations one address may put in the human queue per hour (0: no limit); beyond
    # it the customer gets a polite reply and the message stays in the history.
    address_handoffs_per_hour: int = 30
    # Rasa's `--auth-token`: when set, REST webhook requests need `?token=` (or a bearer header).
    rest_auth_token: str = ""
    # Rasa's socketio `jwt_key`/`jwt_method`: when set, a widget connects with
    # `auth: {"token": JWT}` and the token's `sub` is its session (sender) id.
    socketio_jwt_key: str = ""
    socketio_jwt_method: str = "HS256"
    # Rasa's callback channel: replies are POSTed to this URL ({"recipient_id", "text"...}).
    callback_url: str = ""
    # The reputation watch (bot/reputation/, docs/reputation.md): spikes of negative public
    # posts (or of all public posts) against their own recent baseline, and an overloaded
    # queue, raised once each to the console and to a Slack-compatible webhook.
    alert_webhook_url: str = ""
    # How often a worker process looks (seconds): an alert follows its post within this.
    alert_check_seconds: float = 5.0
    # Posts are counted per bucket of this length; the current window is the last bucket.
    alert_bucket_seconds: float = 300.0
    # The baseline: an EWMA over this many earlier buckets, weighting the latest by alpha.
    alert_baseline_buckets: int = 12
    alert_ewma_alpha: float = 0.3
    # A post is negative at or below this VADER compound score (VADER's own cut-off).
    alert_negative_score: float = -0.05
    # A negative spike: at least this many distinct authors of negative posts in the
    # window, `alert_multiplier` times the baseline, and this share of the window's authors.
    alert_min_authors: int = 5
    alert_multiplier: float = 3.0
    alert_min_negative_share: float = 0.3
    # A volume spike (all public posts, distinct authors); 0 authors turns it off.
    alert_volume_min_authors: int = 30
    alert_volume_multiplier: float = 4.0
    # An alert lasts at least this long and until its figures fall back: no repeats meanwhile.
    alert_cooldown_seconds: float = 1800.0
    # The queue is overloaded over this many waiting conversations or this oldest wait (0: off).
    alert_queue_waiting: int = 50
    alert_queue_oldest_minutes: float = 30.0

    @classmethod
    def from_mapping(cls, source: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = source.get(spec.name.upper())
            if raw is None or raw == "":
                continue
            values[spec.name] = _convert(spec.name, spec.type, raw)
        settings = cls(**values)
        settings = replace(settings, database_url=_with_driver(settings.database_url, ASYNC_DRIVERS))
        if settings.is_sqlite:
            settings = replace(settings, database_url=_anchored_sqlite(settings.database_url))
        if not settings.public_url:
            settings = replace(settings, public_url=f"http://{settings.host}:{settings.port}")
        _check_proxies(settings.trusted_proxies)
        return settings

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sync_database_url(self) -> str:
        """The same database for synchronous clients (Alembic, Rasa's SQLTrackerStore)."""
        return _with_driver(self.database_url, SYNC_DRIVERS)


def _check_proxies(setting: str) -> None:
    from bot.client_address import parse_proxies

    try:
        parse_proxies(setting)
    except ValueError as error:
        raise SettingsError(f"TRUSTED_PROXIES: {error}") from error


def tracker_file(database: str) -> str:
    """On SQLite, Rasa's tracker has a file of its own beside the history's (assistant.db,
    assistant-tracker.db): SQLite has one writer per file, and the model's process and the
    service's waited for each other's writes (SQLite's waits are sleeps of up to 100 ms)."""
    if not database or database == ":memory:":
        return database
    path = Path(database)
    return str(path.with_name(f"{path.stem}-tracker{path.suffix}"))


def _anchored_sqlite(url: str) -> str:
    """A relative SQLite path is relative to the project, not to wherever we were started."""
    scheme, _, path = url.partition(":///")
    if path and not path.startswith("/") and path != ":memory:":
        return f"{scheme}:///{PROJECT_DIR / path}"
    return url


def _convert(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _bool(raw)
        if "Path" in kind:
            path = Path(raw)
            return path if path.is_absolute() else PROJECT_DIR / path
        return raw
    except ValueError as error:
        raise SettingsError(f"{name.upper()}: {error}") from error


def load(env_file: Path | None = None) -> Settings:
    """Settings from `.env` (if present) overridden by the process environment."""
    env_path = env_file or PROJECT_DIR / ".env"
    file_values = {k: v for k, v in dotenv_values(env_path).items() if v is not None}
    return Settings.from_mapping({**file_values, **os.environ})


def endpoint_variables(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `${VARIABLES}` of endpoints.yml, derived from the settings.

    Set explicitly in the environment, a variable wins over the derived value.
    """
    from sqlalchemy.engine import make_url

    database = make_url(settings.sync_database_url)
    derived = {
        "ACTION_ENDPOINT_URL": settings.action_endpoint_url,
        "TRACKER_DIALECT": database.get_backend_name(),
        "TRACKER_HOST": database.host or "",
        "TRACKER_PORT": str(database.port or ""),
        "TRACKER_DB": tracker_file(database.database or "") if settings.is_sqlite else database.database or "",
        "TRACKER_USERNAME": database.username or "",
        "TRACKER_PASSWORD": database.password or "",
        "LOCK_STORE_TYPE": "in_memory",
        "REDIS_HOST": "", "REDIS_PORT": "", "REDIS_DB": "", "REDIS_PASSWORD": "",
        "EVENT_BROKER_TYPE": "",
        "RABBITMQ_HOST": "", "RABBITMQ_PORT": "", "RABBITMQ_USERNAME": "", "RABBITMQ_PASSWORD": "",
        "RABBITMQ_QUEUE": settings.rabbitmq_queue,
    }
    if settings.redis_url:
        redis = make_url(settings.redis_url.replace("redis://", "redis+x://", 1))
        derived.update(LOCK_STORE_TYPE="redis", REDIS_HOST=redis.host or "localhost",
                       REDIS_PORT=str(redis.port or 6379), REDIS_DB=(redis.database or "0"),
                       REDIS_PASSWORD=redis.password or "")
    if settings.rabbitmq_url:
        rabbit = make_url(settings.rabbitmq_url.replace("amqp://", "amqp+x://", 1))
        derived.update(EVENT_BROKER_TYPE="pika", RABBITMQ_HOST=rabbit.host or "localhost",
                       RABBITMQ_PORT=str(rabbit.port or 5672), RABBITMQ_USERNAME=rabbit.username or "guest",
                       RABBITMQ_PASSWORD=rabbit.password or "guest")
    overrides = {k: v for k, v in (environ or {}).items() if k in derived}
    return {**derived, **overrides}
