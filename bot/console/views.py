"""The console's HTML pages: login, queue, conversation, supervisor, canned responses, and
the trainers' review, intents and models.

Pages are shells rendered by Jinja2 (autoescaped); their data comes from the JSON API and
the live WebSocket and is put on the page with DOM methods (textContent), so customer
text is never parsed as HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import get_session, new_session
from jinja2 import Environment

from bot import audit
from bot.client_address import Network, client_address
from bot.console.auth import QUEUE_ROLES, ROLES, SUPERVISOR_ROLES, TRAINER_ROLES, may_supervise
from bot.console.login import Logins, LoginResult
from bot.console.sessions import (
    HOME,
    LOGIN_PATH,
    DatabaseStorage,
    Identity,
    LoginForms,
    csrf_token,
    identity,
    login_required,
    safe_next,
)
from bot.console.accounts import AccountError, set_display_name
from bot.messages import utcnow
from bot.storage import accounts as accounts_store
from bot.storage.database import Database
from bot.web.pages import render

TRAINER_HOME = "/console/review"
REPORTS_PATH = "/console/reports"
# Pages the Reports page links to beside its own figures, (title, path, what it shows): the
# public-reputation watch adds itself here.
REPORTS_RELATED: tuple[tuple[str, str, str], ...] = (
    ("Reputation", "/console/reputation", "public sentiment over time, spikes and alerts"),
)
PASSWORD_PATH = "/console/password"
DISPLAY_NAME_PATH = "/console/display-name"


def nav_items(who: Identity) -> list[tuple[str, str, str]]:
    """(key, title, path) of the console's sections this role may open."""
    items = []
    if who.role in QUEUE_ROLES:
        items += [("queue", "Queue", "/console/"), ("canned", "Canned responses", "/console/canned")]
    if may_supervise(who.role):
        items += [("supervisor", "Team", "/console/supervisor"), ("reports", "Reports", REPORTS_PATH),
                  ("reputation", "Reputation", "/console/reputation")]
    if who.role in TRAINER_ROLES:
        items += [("review", "Review", TRAINER_HOME), ("intents", "Intents", "/console/intents"),
                  ("models", "Models", "/console/models")]
    if who.role == "admin":
        items.append(("audit", "Audit trail", "/console/audit"))
    return items


def view_routes(db: Database, logins: Logins, storage: DatabaseStorage, forms: LoginForms, templates: Environment,
                brand_name: str, trusted_proxies: Sequence[Network]) -> list[web.RouteDef]:
    async def page(request: web.Request, template: str, section: str, **context) -> web.Response:
        who = identity(request)
        session = await get_session(request)
        return render(templates, f"console/{template}", brand_name=brand_name, agent=who,
                      nav=nav_items(who), section=section, csrf=csrf_token(session), **context)

    async def login_page(target: str | None, error: str | None, name: str, status: int = 200,
                         retry_after: float | None = None) -> web.Response:
        token = await forms.issue()
        response = render(templates, "console/login.html", brand_name=brand_name, next=safe_next(target),
                          error=error, login_name=name, csrf=token)
        forms.set_cookie(response, token)
        response.set_status(status)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return response

    async def login_form(request: web.Request) -> web.Response:
        session = await get_session(request)
        if session.get("agent"):
            raise web.HTTPSeeOther(safe_next(request.query.get("next")))
        return await login_page(request.query.get("next"), None, "")

    async def start_session(request: web.Request, name: str, result: LoginResult) -> None:
        # A fresh session: a session id planted before login is worth nothing.
        await storage.forget(request)
        fresh = await new_session(request)
        fresh["agent"], fresh["role"] = name, result.role
        if result.must_change_password:
            fresh["must_change_password"] = True
        csrf_token(fresh)

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        target = safe_next(str(form.get("next") or ""))
        name = str(form.get("name") or "").strip()
        if not await forms.valid(request, form.get("csrf_token")):
            return await login_page(target, "Your form expired; please try again.", name, status=403)
        password = str(form.get("password") or "")
        result = await logins.log_in(client_address(request, trusted_proxies), name, password, utcnow())
        if not result.ok:
            return await login_page(target, result.error, name, status=401 if result.retry_after is None else 429,
                                    retry_after=result.retry_after)
        await start_session(request, name, result)
        if result.must_change_password:
            raise web.HTTPSeeOther(f"{PASSWORD_PATH}?next={quote(target, safe='')}")
        raise web.HTTPSeeOther(landing(target, result.role))

    async def account_page(request: web.Request, **context) -> web.Response:
        """The account page: the name customers see, and the password."""
        async with db.session() as session:
            agent = await accounts_store.get_agent(session, identity(request).name)
        fields = {"next": HOME, "error": None, "display_name": agent.display_name if agent else None,
                  "display_error": None, "display_saved": False,
                  "forced": bool((await get_session(request)).get("must_change_password")), **context}
        return await page(request, "password.html", "password", **fields)

    @login_required(frozenset(ROLES), api=False, before_password_change=True)
    async def password_form(request: web.Request) -> web.Response:
        return await account_page(request, next=safe_next(request.query.get("next")),
                                  display_saved=request.query.get("saved") == "display-name")

    @login_required(frozenset(ROLES), api=False)
    async def change_display_name(request: web.Request) -> web.Response:
        """The form posts here (the Remove button sends `clear`); so can a script, with JSON
        ({"display_name": "..." or null}) and the CSRF header."""
        who = identity(request)
        as_json = request.content_type == "application/json"
        body = await _json_or_form(request, as_json)
        wanted = None if body.get("clear") else body.get("display_name")
        try:
            if not body.get("clear") and "display_name" not in body:
                raise AccountError("give a display_name (null to show the login name again)")
            shown = await set_display_name(db, who.name, wanted, by=who.name)
        except AccountError as error:
            if as_json:
                return web.json_response({"error": str(error)}, status=400)
            response = await account_page(request, display_error=str(error),
                                          display_name=wanted if isinstance(wanted, str) else None)
            response.set_status(400)
            return response
        if as_json:
            return web.json_response({"display_name": shown, "shown_as": shown or who.name})
        raise web.HTTPSeeOther(f"{PASSWORD_PATH}?saved=display-name")

    @login_required(frozenset(ROLES), api=False, before_password_change=True)
    async def change_password(request: web.Request) -> web.Response:
        """The form posts here; so can a script, with JSON ({"current", "new"}) and the header."""
        who = identity(request)
        as_json = request.content_type == "application/json"
        if as_json:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "the body must be JSON"}, status=400)
            body = body if isinstance(body, dict) else {}
            target = HOME
        else:
            body = await request.post()
            target = safe_next(str(body.get("next") or ""))
        current, new = body.get("current"), body.get("new")
        if not isinstance(current, str) or not isinstance(new, str):
            result = LoginResult(False, "give the current password and a new one")
        elif not as_json and new != body.get("repeat"):
            result = LoginResult(False, "the new password and its repetition differ")
        else:
            result = await logins.change_password(client_address(request, trusted_proxies), who.name, current, new,
                                                  utcnow())
        if not result.ok:
            status = 400 if result.retry_after is None else 429
            if as_json:
                return web.json_response({"error": result.error}, status=status)
            response = await account_page(request, next=target, error=result.error)
            response.set_status(status)
            return response
        # Every session of the account ended with the change (open pages elsewhere close);
        # this one goes on in a fresh session.
        await start_session(request, who.name, result)
        if as_json:
            return web.json_response({"ok": True})
        raise web.HTTPSeeOther(landing(target, result.role))

    @login_required(frozenset(ROLES), api=False, before_password_change=True)
    async def logout(request: web.Request) -> web.Response:
        session = await get_session(request)
        session.invalidate()
        raise web.HTTPSeeOther(LOGIN_PATH)

    @login_required(QUEUE_ROLES, api=False)
    async def queue(request: web.Request) -> web.Response:
        return await page(request, "queue.html", "queue")

    @login_required(QUEUE_ROLES, api=False)
    async def conversation(request: web.Request) -> web.Response:
        await audit.record_in(db, identity(request).name, "conversation_opened",
                              f"conversation:{request.match_info['conversation_id']}", utcnow())
        return await page(request, "conversation.html", "queue",
                          conversation_id=int(request.match_info["conversation_id"]))

    @login_required(QUEUE_ROLES, api=False)
    async def canned(request: web.Request) -> web.Response:
        return await page(request, "canned.html", "canned")

    @login_required(SUPERVISOR_ROLES, api=False)
    async def supervisor(request: web.Request) -> web.Response:
        return await page(request, "supervisor.html", "supervisor")

    @login_required(SUPERVISOR_ROLES, api=False)
    async def reports(request: web.Request) -> web.Response:
        return await page(request, "reports.html", "reports", related=REPORTS_RELATED,
                          may_review=identity(request).role in TRAINER_ROLES)

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

    @login_required(frozenset({"admin"}), api=False)
    async def audit_trail(request: web.Request) -> web.Response:
        return await page(request, "audit.html", "audit")

    return [
        web.get("/audit", audit_trail),
        web.get("/login", login_form), web.post("/login", login), web.post("/logout", logout),
        web.get("/password", password_form), web.post("/password", change_password),
        web.post("/display-name", change_display_name),
        web.get("/", queue), web.get(r"/conversations/{conversation_id:\d+}", conversation),
        web.get("/canned", canned), web.get("/supervisor", supervisor), web.get("/reports", reports),
        web.get("/review", review), web.get("/intents", intents),
        web.get(r"/intents/{intent:[a-z][a-z0-9_]*}", intent), web.get("/models", models),
    ]


async def _json_or_form(request: web.Request, as_json: bool) -> dict:
    if not as_json:
        return dict(await request.post())
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def landing(target: str, role: str | None) -> str:
    # Trainers do not work the queue: their home is the review queue.
    return target if target != HOME or role != "trainer" else TRAINER_HOME
