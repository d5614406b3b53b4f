"""Every page leaves with the security headers, also those raised as HTTP exceptions
(redirects to the login page, 403 and 404 pages), over real HTTP to the web role of the app."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.web.pages import CONTENT_SECURITY_POLICY

SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin"}


@pytest.fixture
async def client(db, database_url, tmp_path):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models")})
    await console_accounts.add_user(db, "ann", "agent", "password-of-ann", utcnow())
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


def assert_secured(response) -> None:
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_a_rendered_page_has_the_security_headers(client):
    response = await client.get("/console/login")
    assert response.status == 200
    assert_secured(response)


@pytest.mark.parametrize("path, status, location", [
    ("/console/", 303, "/console/login?next=/console/"),  # not logged in
    ("/console", 301, "/console/"),
    ("/no-such-page", 404, None),
])
async def test_raised_redirects_and_errors_have_them_too(client, path, status, location):
    response = await client.get(path, allow_redirects=False)
    assert response.status == status and response.headers.get("Location") == location
    assert_secured(response)


async def test_a_page_the_role_may_not_open_is_a_403_with_them(client):
    form = await (await client.get("/console/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    login = await client.post("/console/login", allow_redirects=False,
                              data={"name": "ann", "password": "password-of-ann", "csrf_token": token})
    assert login.status == 303
    response = await client.get("/console/review", allow_redirects=False)
    assert response.status == 403 and "Your role may not open this page." in await response.text()
    assert_secured(response)


@pytest.mark.parametrize("public_url, hsts", [
    ("https://help.example.com", "max-age=31536000"),
    ("HTTPS://help.example.com/", "max-age=31536000"),
    ("http://help.example.com", None),
    ("", None),  # http://HOST:PORT
])
async def test_strict_transport_security_only_when_the_public_address_is_https(db, database_url, tmp_path,
                                                                               public_url, hsts):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models"), "PUBLIC_URL": public_url})
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        for path, status in (("/console/login", 200), ("/console/", 303), ("/no-such-page", 404), ("/health", 200),
                             ("/webhooks/twitter/webhook", 403)):
            response = await client.get(path, allow_redirects=False)
            assert response.status == status
            assert response.headers.get("Strict-Transport-Security") == hsts, path
            assert_secured(response)
