"""Logging in to the console over real HTTP, as a browser's form would."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient


def forwarded(address: str | None) -> dict[str, str]:
    """The client address a trusted proxy (TRUSTED_PROXIES=127.0.0.1) reports."""
    return {"X-Forwarded-For": address} if address else {}


async def login_form_token(client: TestClient, address: str | None = None) -> str:
    form = await (await client.get("/console/login", headers=forwarded(address))).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


async def post_login(client: TestClient, name: str, password: str, address: str | None = None):
    token = await login_form_token(client, address)
    return await client.post("/console/login", data={"name": name, "password": password, "csrf_token": token},
                             headers=forwarded(address), allow_redirects=False)


async def logged_in(client: TestClient, name: str, password: str | None = None,
                    address: str | None = None) -> dict[str, str]:
    """Log in through the form; the headers that carry the page's CSRF token."""
    response = await post_login(client, name, password or f"password-of-{name}", address)
    assert response.status == 303, await response.text()
    page = await (await client.get(response.headers["Location"], headers=forwarded(address))).text()
    return {"X-CSRF-Token": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1), **forwarded(address)}


def error_of(page: str) -> str | None:
    found = re.search(r'id="login-error">([^<]*)<', page)
    return found.group(1) if found else None
