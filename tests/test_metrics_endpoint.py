"""/metrics of a web process over real HTTP: absent without METRICS_TOKEN, refused without
the token, and still answering (state_up 0) when the database is away."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.app import Roles, create_app
from bot.settings import Settings
from bot.storage.migrate import upgrade
from tests.support.process import free_port

TOKEN = "a-long-random-scrape-token-0123456789"


async def client_for(database_url: str, **env: str) -> TestClient:
    settings = Settings.from_mapping({"DATABASE_URL": database_url, **env})
    client = TestClient(TestServer(create_app(settings, Roles(web=True, worker=False))))
    await client.start_server()
    return client


def families(text: str) -> dict[str, list]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


@pytest.fixture
async def migrated(database_url):
    upgrade(Settings.from_mapping({"DATABASE_URL": database_url}).sync_database_url)
    return database_url


async def test_without_a_token_setting_there_is_no_metrics_route(migrated):
    client = await client_for(migrated)
    try:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
            response = await client.get("/metrics", headers=headers)
            assert response.status == 404
            assert "assistant_" not in await response.text()
    finally:
        await client.close()


async def test_the_token_is_required_and_the_state_is_answered(migrated):
    client = await client_for(migrated, METRICS_TOKEN=TOKEN)
    try:
        refused = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await refused.json())["error"]
        metrics.record_alert("test_alert")
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        scraped = families(await response.text())
    finally:
        await client.close()
    assert [s.value for s in scraped["assistant_state_up"]] == [1.0]
    assert {s.labels["status"]: s.value for s in scraped["assistant_inbox_backlog"]} == {"pending": 0,
                                                                                           "processing": 0}
    assert {s.labels["band"] for s in scraped["assistant_queue_waiting"]} == {"public", "high", "raised", "normal"}
    assert {s.labels["role"] for s in scraped["assistant_agents_online"]} == {"agent", "supervisor", "trainer",
                                                                               "admin"}
    assert any(s.labels == {"kind": "test_alert"} and s.value >= 1 for s in scraped["assistant_alerts"])
    # A web-only process holds no model, so it says none.
    assert "assistant_model" not in scraped and "assistant_model_info" not in scraped


async def test_the_process_counts_are_still_scraped_when_the_database_is_away():
    # Nothing listens on this port: the database is unreachable.
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/absent"
    client = await client_for(url, METRICS_TOKEN=TOKEN)
    try:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 200
        scraped = families(await response.text())
    finally:
        await client.close()
    assert [s.value for s in scraped["assistant_state_up"]] == [0.0]
    assert "assistant_inbox_backlog" not in scraped
    assert "assistant_messages_accepted" in scraped
