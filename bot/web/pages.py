"""Jinja2 rendering and the security headers every page is sent with."""

from __future__ import annotations

import secrets
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


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
