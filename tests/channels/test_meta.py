"""What the Graph API channels share (channels/meta.py), against a fake Graph API on loopback."""

from datetime import datetime, timezone

import pytest

from bot.http import HttpClient
from channels.meta import GraphApi
from tests.support.fake_platform import FakePlatform, Scripted

NOW = datetime(2026, 10, 21, 7, 28, 0, tzinfo=timezone.utc).timestamp()
RATE_LIMITED = {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException",
                          "code": 613, "fbtrace_id": "AbCdEf"}}


@pytest.fixture
async def graph():
    server = FakePlatform().start()
    http = HttpClient(5)
    yield server, GraphApi(server.url, "page-token", http, clock=lambda: NOW)
    await http.close()
    server.stop()


@pytest.mark.parametrize("header, seconds", [("42", 42.0), ("Wed, 21 Oct 2026 07:29:30 GMT", 90.0)])
async def test_a_rate_limit_is_retried_after_retry_after_in_either_form(graph, header, seconds):
    server, api = graph
    server.script("/me/messages", Scripted(429, RATE_LIMITED, headers={"Retry-After": header}))
    result = await api.post("/me/messages", {"recipient": {"id": "1"}, "message": {"text": "hi"}})
    assert not result.ok and not result.permanent and result.retry_after == seconds
    assert "code 613" in result.error


async def test_an_unreadable_retry_after_leaves_the_backoff_to_the_outbox(graph):
    server, api = graph
    server.script("/me/messages", Scripted(503, "Service Unavailable", headers={"Retry-After": "later"}))
    result = await api.post("/me/messages", {"recipient": {"id": "1"}, "message": {"text": "hi"}})
    assert not result.ok and not result.permanent and result.retry_after is None
