"""The console's HTML pages: login, queue, conversation, supervisor, canned responses, and
the trainers' review, intents and models.

Pages are shells rendered by Jinja2 (autoescaped); their data comes from the JSON API and
the live WebSocket and is put on the page with DOM methods (textContent), so customer
text is never parsed as HTML.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_session import get_session, new_session
from jinja2 import Environment

from bot.console.auth import (
    QUEUE_ROLES,
    SUPERVISOR_ROLES,
    TRAINER_ROLES,
    attempt_login,
    hash_password,
    may_supervise,
    needs_rehash,
)
from bot.console.sessions import (
    HOME,
    LOGIN_PATH,
    DatabaseStorage,
    Identity,
    csrf_ok,
    csrf_token,
    identity,
    login_required,
    safe_next,
)
from bot.messages import utcnow
from bot.storage import accounts
from bot.storage.database import Database
from bot.web.pages import render

TRAINER_HOME = "/console/review"


def nav_items(who: Identity) -> list[tuple[str, str, str]]:
    """(key, title, path) of the console's sections this role may open."""
    items = []
    if who.role in QUEUE_ROLES:
        items += [("queue", "Queue", "/console/"), ("canned", "Canned responses", "/console/canned")]
    if may_supervise(who.role):
        items += [("supervisor", "Team", "/console/supervisor"), ("reputation", "Reputation", "/console/reputation")]
    if who.role in TRAINER_ROLES:
        items += [("review", "Review", TRAINER_HOME), ("intents", "Intents", "/console/intents"),
                  ("models", "Models", "/console/models")]
    return items


def view_routes(db: Database, storage: DatabaseStorage, templates: Environment,
                brand_name: str) -> list[web.RouteDef]:
    async def page(request: web.Request, template: str, section: str, **context) -> web.Response:
        who = identity(request)
        session = await get_session(request)
        return render(templates, f"console/{template}", brand_name=brand_name, agent=who,
                      nav=nav_items(who), section=section, csrf=csrf_token(session), **context)

    async def login_form(request: web.Request) -> web.Response:
        session = await get_session(request)
        if session.get("agent"):
            raise web.HTTPSeeOther(safe_next(request.query.get("next")))
        return _login_page(templates, brand_name, csrf_token(session), request.query.get("next"), None, "")

    async def login(request: web.Request) -> web.Response:
        session = await get_session(request)
        form = await request.post()
        target = safe_next(str(form.get("next") or ""))
        name = str(form.get("name") or "").strip()
        if not await csrf_ok(request, session):
            return _login_page(templates, brand_name, csrf_token(session), target,
                               "Your form expired; please try again.", name, status=403)
        password = str(form.get("password") or "")
        now = utcnow()
        async with db.session() as db_session:
            agent = await accounts.get_agent(db_session, name, lock=True) if name else None
            # argon2 takes tens of milliseconds of CPU on purpose: off the loop that acks webhooks.
            outcome = await asyncio.to_thread(attempt_login, accounts.account_of(agent) if agent else None,
                                              password, now)
            if agent is not None:
                agent.failed_logins, agent.locked_until = outcome.failed_logins, outcome.locked_until
                if outcome.ok:
                    agent.last_login_at = now
                    # Logins are rare enough to sweep expired sessions (and abandoned forms) here.
                    await accounts.delete_expired_sessions(db_session, now)
                    if needs_rehash(agent.password_hash):
                        agent.password_hash = hash_password(password)
            role = agent.role if agent is not None else None
        if not outcome.ok:
            return _login_page(templates, brand_name, csrf_token(session), target, outcome.error, name,
                               status=401)
        # A fresh session at login: a session id planted before login is worth nothing.
        await storage.forget(request)
        fresh = await new_session(request)
        fresh["agent"], fresh["role"] = name, role
        csrf_token(fresh)
        # Trainers do not work the queue: their home is the review queue.
        landing = target if target != HOME or role != "trainer" else TRAINER_HOME
        raise web.HTTPSeeOther(landing)

    @login_required(frozenset({"agent", "supervisor", "trainer", "admin"}), api=False)
    async def logout(request: web.Request) -> web.Response:
        session = await get_session(request)
        session.invalidate()
        raise web.HTTPSeeOther(LOGIN_PATH)

    @login_required(QUEUE_ROLES, api=False)
    async def queue(request: web.Request) -> web.Response:
        return await page(request, "queue.html", "queue")

    @login_required(QUEUE_ROLES, api=False)
    async def conversation(request: web.Request) -> web.Response:
        return await page(request, "conversation.html", "queue",
                          conversation_id=int(request.match_info["conversation_id"]))

    @login_required(QUEUE_ROLES, api=False)
    async def canned(request: web.Request) -> web.Response:
        return await page(request, "canned.html", "canned")

    @login_required(SUPERVISOR_ROLES, api=False)
    async def supervisor(request: web.Request) -> web.Response:
        return await page(request, "supervisor.html", "supervisor")

    @login_required(TRAINER_ROLES, api=False)
    async def review(request: web.Request) -> web.Response:
        return await page(request, "review.html", "review")

    @login_required(TRAINER_ROLES, api=False)
    async def intents(request: web.Request) -> web.Response:
        return await page(request, "intents.html", "intents")

    @login_required(TRAINER_ROLES, api=False)
    async def intent(request: web.Request) -> web.Response:
        return await page(request, "intent.html", "intents", intent=request.match_info["intent"])

    @login_required(TRAINER_ROLES, api=False)
    async def models(request: web.Request) -> web.Response:
        return await page(request, "models.html", "models")

    return [
        web.get("/login", login_form), web.post("/login", login), web.post("/logout", logout),
        web.get("/", queue), web.get(r"/conversations/{conversation_id:\d+}", conversation),
        web.get("/canned", canned), web.get("/supervisor", supervisor),
        web.get("/review", review), web.get("/intents", intents),
        web.get(r"/intents/{intent:[a-z][a-z0-9_]*}", intent), web.get("/models", models),
    ]


def _login_page(templates: Environment, brand_name: str, csrf: str, target: str | None, error: str | None,
                name: str, status: int = 200) -> web.Response:
    response = render(templates, "console/login.html", brand_name=brand_name, csrf=csrf,
                      next=safe_next(target), error=error, login_name=name)
    response.set_status(status)
    return response

