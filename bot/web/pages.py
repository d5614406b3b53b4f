"""Jinja2 rendering and the security headers every page is sent with."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def template_environment() -> Environment:
    return Environment(loader=FileSystemLoader(WEB_DIR / "templates"),
                       autoescape=select_autoescape(["html"]), enable_async=False)


def render(templates: Environment, name: str, **context: Any) -> web.Response:
    html = templates.get_template(name).render(csp_nonce=secrets.token_urlsafe(12), static_prefix="/static",
                                                **context)
    return web.Response(text=html, content_type="text/html")


# Sent only when PUBLIC_URL is https: browsers then refuse plain http to this host for a
# year, so a network attacker cannot strip TLS from an agent's console session. Not for
# subdomains, which may be other services of the brand's.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def security_headers(public_url: str):
    """The middleware that gives every response the security headers of these settings."""
    hsts = public_url.lower().startswith("https://")

    @web.middleware
    async def secured(request: web.Request, handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as raised:
            # Redirects to the login page, 403s and 404s are raised, not returned; they are
            # pages too, and leave with the same headers.
            _secure(raised.headers, hsts)
            raise
        _secure(response.headers, hsts)
        return response

    return secured


def _secure(headers: MutableMapping[str, str], hsts: bool) -> None:
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if hsts:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
