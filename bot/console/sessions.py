"""Console sessions kept in the database, login checks and CSRF tokens.

The cookie carries only a random key; the session's data (who is logged in, the CSRF
token) lives in the `console_sessions` table, so any web process serves any agent and
logging someone out (or disabling them) takes effect everywhere at once. A row is
written only by a successful login: the login form's CSRF token rides in a signed cookie
of its own (LoginForms), so the form can be fetched any number of times for free.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import SESSION_KEY, STORAGE_KEY, AbstractStorage, Session, get_session

from bot.bus import Bus
from bot.console.accounts import sessions_ended
from bot.messages import utcnow
from bot.storage import accounts
from bot.storage.database import Database

COOKIE_NAME = "console_session"
LOGIN_COOKIE_NAME = "console_login"
PASSWORD_PATH = "/console/password"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/console/login"
HOME = "/console/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(AbstractStorage):
    """aiohttp-session storage in our own database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, *, max_age: int, secure: bool, bus: Bus | None = None) -> None:
        super().__init__(cookie_name=COOKIE_NAME, max_age=max_age, path="/console", secure=secure,
                         httponly=True, samesite="Lax")
        self.db = db
        self.bus = bus

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        if key:
            async with self.db.session() as session:
                data = await accounts.load_session(session, _key_hash(key), utcnow())
            if data is not None:
                return Session(key, data=data, new=False, max_age=self.max_age)
        return Session(None, data=None, new=True, max_age=self.max_age)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        key = session.identity
        if session.empty:
            if key:
                await self._end(key)
            self.save_cookie(response, "", max_age=session.max_age)
            return
        if key is None:
            key = secrets.token_urlsafe(32)
        data = self._get_session_data(session)
        async with self.db.session() as db_session:
            await accounts.save_session(db_session, _key_hash(key), data, session.get("agent"),
                                        utcnow() + timedelta(seconds=self.max_age or 3600))
        self.save_cookie(response, key, max_age=session.max_age)

    async def forget(self, request: web.Request) -> None:
        """End the session the request came with (before a login starts a new one)."""
        key = self.load_cookie(request)
        if key:
            await self._end(key)

    async def _end(self, key: str) -> None:
        async with self.db.session() as session:
            name = (await accounts.load_session(session, _key_hash(key), utcnow()) or {}).get("agent")
            await accounts.delete_session(session, _key_hash(key))
        if name:
            await sessions_ended(self.bus, name)

    async def alive(self, key: str | None) -> bool:
        """Whether the session with this cookie key still exists (an open WebSocket asks)."""
        if not key:
            return False
        async with self.db.session() as session:
            return await accounts.session_exists(session, _key_hash(key), utcnow())


class LoginForms:
    """CSRF for the login form without a session row: the token is signed with a key the
    web processes share and sent both as a cookie and in the form (a signed double submit).
    A cross-site page can neither read the cookie nor make a token that verifies."""

    KEY_NAME = "login_csrf"
    MAX_AGE = 2 * 3600

    def __init__(self, db: Database, *, secure: bool) -> None:
        self.db = db
        self.secure = secure
        self._key: bytes | None = None

    async def _signing_key(self) -> bytes:
        if self._key is None:
            async with self.db.session() as session:
                value = await accounts.console_key(session, self.KEY_NAME, lambda: secrets.token_urlsafe(48))
            self._key = value.encode()
        return self._key

    async def issue(self) -> str:
        """A new token for a form; send it as the cookie too (set_cookie)."""
        payload = f"{secrets.token_urlsafe(18)}.{int(time.time())}"
        return f"{payload}.{self._sign(await self._signing_key(), payload)}"

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(LOGIN_COOKIE_NAME, token, max_age=self.MAX_AGE, path=LOGIN_PATH, secure=self.secure,
                            httponly=True, samesite="Strict")

    async def valid(self, request: web.Request, given: object) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE_NAME)
        if not isinstance(given, str) or not cookie or not hmac.compare_digest(given.encode(), cookie.encode()):
            return False
        payload, _, signature = given.rpartition(".")
        issued = payload.rpartition(".")[2]
        # A minute's grace for web processes whose clocks differ a little.
        if not issued.isdigit() or not -60 <= time.time() - int(issued) <= self.MAX_AGE:
            return False
        return hmac.compare_digest(signature, self._sign(await self._signing_key(), payload))

    @staticmethod
    def _sign(key: bytes, payload: str) -> str:
        return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def with_sessions(storage: DatabaseStorage, handler: Handler) -> Handler:
    """aiohttp-session's middleware, for one handler: load lazily, save when changed."""

    @wraps(handler)
    async def handle(request: web.Request) -> web.StreamResponse:
        request[STORAGE_KEY] = storage
        try:
            response = await handler(request)
        except web.HTTPException as raised:
            await _save(storage, request, raised)
            raise
        if isinstance(response, web.Response) and not response.prepared:
            await _save(storage, request, response)
        return response

    return handle


async def _save(storage: DatabaseStorage, request: web.Request, response: web.StreamResponse) -> None:
    session = request.get(SESSION_KEY)
    if session is not None and session._changed:
        await storage.save_session(request, response, session)


def csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


async def csrf_ok(request: web.Request, session: Session) -> bool:
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = (await request.post()).get(CSRF_FIELD)
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(given, expected)


@dataclass(frozen=True)
class Identity:
    name: str
    role: str


IDENTITY_KEY = "console_identity"


def identity(request: web.Request) -> Identity:
    return request[IDENTITY_KEY]


MUST_CHANGE_PASSWORD = "change your password first"


def login_required(roles: frozenset[str], *, api: bool, before_password_change: bool = False,
                   refusal: str = "your role may not do this") -> Callable[[Handler], Handler]:
    """A page or API handler for logged-in people with one of `roles`; state-changing
    requests also need the session's CSRF token. Pages redirect to the login form, the
    API answers 401/403 JSON. Someone signed in with a password others have seen (a
    generated one) may only choose a new one (`before_password_change` handlers)."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            session = await get_session(request)
            name, role = session.get("agent"), session.get("role")
            if not name:
                if api:
                    return web.json_response({"error": "log in first"}, status=401)
                raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
            if role not in roles:
                if api:
                    return web.json_response({"error": refusal}, status=403)
                raise web.HTTPForbidden(text="Your role may not open this page.")
            if session.get("must_change_password") and not before_password_change:
                if api:
                    return web.json_response({"error": MUST_CHANGE_PASSWORD}, status=403)
                raise web.HTTPSeeOther(PASSWORD_PATH)
            if request.method not in SAFE_METHODS and not await csrf_ok(request, session):
                return web.json_response({"error": "missing or wrong CSRF token"}, status=403)
            request[IDENTITY_KEY] = Identity(name, role)
            return await handler(request)

        return checked

    return decorate


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME
