"""The fuzzer of `make fuzz` (tests/support/fuzz.py), a few hundred bodies a way in.

First every parser on its own: a generated body is either refused with a reason or parsed
into well-typed messages. Then the running service: no 5xx, no dropped WebSocket, no
traceback in its log, and a real question still gets a real answer afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os

import pytest

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.settings import Settings
from channels import socketio
from channels.base import WebhookRejected, WebhookRequest
from channels.registry import build_platform_channels
from channels.rest import RestChannel
from channels.webchat import WebchatChannel
from tests.conftest import service_env
from tests.support.fuzz import TARGETS, Generator, service_settings
from tests.support.fuzz_driver import fuzz_target
from tests.support.payloads import well_typed
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database

PARSED_EACH = int(os.environ.get("FUZZ_TEST_PARSED", "1000"))
SENT_EACH = int(os.environ.get("FUZZ_TEST_SENT", "200"))
SEED = int(os.environ.get("FUZZ_SEED", "7"))


def _parse(target_name: str):
    settings = Settings.from_mapping(service_settings("http://127.0.0.1:9"))
    channels = build_platform_channels(settings, HttpClient(5), LocalBus())
    if target_name in channels and target_name != "socketio":
        channel = channels[target_name]
        return lambda body, headers: channel.parse(WebhookRequest("POST", headers, {}, body))
    if target_name == "rest":
        rest = RestChannel(settings.max_text_chars)
        return lambda body, headers: rest.parse(WebhookRequest("POST", headers, {}, body))
    if target_name == "webchat":
        webchat = WebchatChannel(LocalBus(), settings.max_text_chars)
        return lambda body, headers: [webchat.parse_frame("fuzz-sender", body.decode("utf-8", "replace"))]

    def socketio_frame(body: bytes, headers: dict) -> list:
        # python-socketio decodes the packet; what reaches our handler is its data.
        try:
            packet = json.loads(body)
        except (ValueError, RecursionError):
            return []
        if not (isinstance(packet, list) and len(packet) == 2 and packet[0] == "user_uttered"):
            return []
        return [socketio.user_message(socketio.session_of(packet[1]) or "sid", packet[1], settings.max_text_chars)]
    return socketio_frame


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_every_generated_body_is_refused_with_a_reason_or_parsed_well_typed(target):
    parse, generator = _parse(target.name), Generator(target, SEED)
    refused = 0
    for _ in range(PARSED_EACH):
        body, headers = generator.next()
        try:
            parsed = parse(body, headers)
        except WebhookRejected as rejected:
            assert 400 <= rejected.status < 500 and rejected.reason
            refused += 1
            continue
        assert well_typed(parsed), (body[:500], parsed)
        for item in parsed:
            json.dumps(item.to_json() if hasattr(item, "to_json") else item.__dict__).encode("utf-8")
            getattr(item, "text", "").encode("utf-8")  # no unpaired surrogate reaches the database
    assert 0 < refused < PARSED_EACH  # the bodies reach both sides of the parser


# SQLite by default: a second service (and model load) would double the run. PostgreSQL,
# which refuses what SQLite stores (NUL characters, over-long ids), with
# FUZZ_TEST_DATABASE=postgres; `python -m bench.fuzz --postgres` is the full run on it.
DATABASE = os.environ.get("FUZZ_TEST_DATABASE", "sqlite")


@pytest.fixture(scope="module")
def fuzzed_service(model, fake_platform, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        url = (stack.enter_context(fresh_postgres_database()) if DATABASE == "postgres"
               else f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'assistant.db'}")
        service = ServiceProcess(service_env(url, model, **service_settings(fake_platform.url)))
        try:
            yield service.start(timeout=840)  # a busy machine may take minutes to load the model
        finally:
            service.stop()


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first one waits for the service to load its model
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
async def test_the_running_service_takes_generated_bodies_without_a_5xx_or_a_crash(fuzzed_service, target):
    # Every wait is bounded (60 s a request, 240 s for the backlog, 120 s for the question),
    # so a stuck service fails the test instead of hanging the suite.
    report = await fuzz_target(fuzzed_service, target, SENT_EACH, SEED, concurrency=4, drain_timeout=240)
    assert report.requests == SENT_EACH
    assert report.server_errors == 0, dict(report.answers)
    assert report.crash_lines == []
    assert report.alive and report.answers_after, dict(report.answers)
