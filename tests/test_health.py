"""GET /health over real HTTP: anyone learns whether the service is up, only the holder of
HEALTH_TOKEN learns the model, the backlog and which settings are missing."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.settings import Settings

TOKEN = "health-token-3f9a1c0e"


def app_for(database_url: str, tmp_path, **extra: str):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models"), "HEALTH_TOKEN": TOKEN,
                                      "TWITTER_USER_ID": "1503227405498351616", **extra})
    return create_app(settings, Roles(web=True, worker=False))


async def test_anyone_is_told_only_that_the_service_is_up(db, database_url, tmp_path):
    async with TestClient(TestServer(app_for(database_url, tmp_path))) as client:
        response = await client.get("/health")
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
        text = await response.text()
        assert "TWITTER" not in text and "configured" not in text


async def test_the_holder_of_the_token_gets_the_details(db, database_url, tmp_path):
    async with TestClient(TestServer(app_for(database_url, tmp_path))) as client:
        response = await client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 200
        details = await response.json()
    assert details["status"] == "ok" and details["database"] == "ok" and details["backlog"] == 0
    assert details["roles"] == ["web"] and "model" in details
    assert details["channels"]["twitter"] == "not configured: set TWITTER_CONSUMER_SECRET, TWITTER_ACCESS_TOKEN"
    assert details["channels"]["rest"] == "configured"


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN])
async def test_a_wrong_token_is_a_401_without_details(db, database_url, tmp_path, authorization):
    async with TestClient(TestServer(app_for(database_url, tmp_path))) as client:
        response = await client.get("/health", headers={"Authorization": authorization})
        assert response.status == 401
        assert await response.json() == {"error": "wrong health token"}


async def test_without_a_health_token_nobody_gets_the_details(db, database_url, tmp_path):
    async with TestClient(TestServer(app_for(database_url, tmp_path, HEALTH_TOKEN=""))) as client:
        response = await client.get("/health", headers={"Authorization": "Bearer "})
        assert response.status == 401 and "HEALTH_TOKEN is not set" in (await response.json())["error"]
        assert await (await client.get("/health")).json() == {"status": "ok"}


async def test_an_unreachable_database_is_a_503_for_anyone(tmp_path):
    # Nothing listens on port 1: the database cannot be reached.
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"
    async with TestClient(TestServer(app_for(unreachable, tmp_path))) as client:
        response = await client.get("/health")
        assert response.status == 503 and await response.json() == {"status": "degraded"}
        detailed = await client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})
        assert detailed.status == 503 and (await detailed.json())["database"].startswith("unavailable")
