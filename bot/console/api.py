"""The console's JSON API: every route needs a login, the right role and (to change
anything) the CSRF token; errors are `{"error": "..."}` with a fitting status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot import audit
from bot.console.accounts import AccountError, NoSuchAccount, set_display_name
from bot.console.auth import QUEUE_ROLES, SUPERVISOR_ROLES, may_supervise
from bot.console.desk import QUEUE_PAGE, Desk, DeskError
from bot.console.sessions import identity, login_required
from bot.messages import utcnow
from bot.storage import console as store
from bot.storage.database import Database

MAX_TEXT = 4096
SHORTCUT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")

queue_api = login_required(QUEUE_ROLES, api=True)
supervisor_api = login_required(SUPERVISOR_ROLES, api=True)
admin_api = login_required(frozenset({"admin"}), api=True, refusal="only admins may change other people's accounts")
# Canned responses are shared by the whole team: agents use them, supervisors curate them.
CANNED_EDITORS = SUPERVISOR_ROLES
canned_editor_api = login_required(CANNED_EDITORS, api=True,
                                   refusal="only supervisors and admins may change canned responses")


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "the body must be JSON"}', content_type="application/json")
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "the body must be a JSON object"}', content_type="application/json")
    return body


def text_field(body: dict[str, Any], key: str, limit: int = MAX_TEXT) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeskError(f"'{key}' must be non-empty text", 400)
    if len(value) > limit:
        raise DeskError(f"'{key}' is longer than {limit} characters", 400)
    return value


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise DeskError(f"'{name}' must be a whole number from {low} to {high}", 400)
    return int(raw)


def answering(work: Callable[[web.Request], Awaitable[Any]]):
    async def handler(request: web.Request) -> web.Response:
        try:
            result = await work(request)
        except DeskError as error:
            return web.json_response({"error": str(error)}, status=error.status)
        return web.json_response(result if result is not None else {"ok": True})

    return handler


def api_routes(db: Database, desk: Desk) -> list[web.RouteDef]:
    def conversation_id(request: web.Request) -> int:
        return int(request.match_info["conversation_id"])

    @queue_api
    @answering
    async def queue(request):
        limit = _int_param(request, "limit", QUEUE_PAGE, 1, QUEUE_PAGE)
        offset = _int_param(request, "offset", 0, 0, 10 ** 9)
        return await desk.queue(identity(request).name, limit, offset)

    @queue_api
    @answering
    async def conversation(request):
        await audit.record_in(db, identity(request).name, "conversation_opened",
                              f"conversation:{conversation_id(request)}", utcnow())
        return await desk.record(conversation_id(request), identity(request).name)

    @queue_api
    @answering
    async def claim(request):
        await desk.claim(conversation_id(request), identity(request).name)

    @queue_api
    @answering
    async def reply(request):
        body = await json_body(request)
        return {"message_id": await desk.reply(conversation_id(request), identity(request).name, text_field(body, "text"))}

    @queue_api
    @answering
    async def note(request):
        body = await json_body(request)
        await desk.note(conversation_id(request), identity(request).name, text_field(body, "text"))

    @queue_api
    @answering
    async def transfer(request):
        body = await json_body(request)
        who = identity(request)
        await desk.transfer(conversation_id(request), who.name, text_field(body, "agent", 64),
                            supervisor=may_supervise(who.role))

    @queue_api
    @answering
    async def resolve(request):
        body = await json_body(request)
        who = identity(request)
        await desk.resolve(conversation_id(request), who.name, ask_satisfaction=bool(body.get("ask_satisfaction")),
                           supervisor=may_supervise(who.role))

    @queue_api
    @answering
    async def handback(request):
        who = identity(request)
        await desk.hand_back(conversation_id(request), who.name, supervisor=may_supervise(who.role))

    @queue_api
    @answering
    async def reopen(request):
        who = identity(request)
        await desk.reopen(conversation_id(request), who.name, supervisor=may_supervise(who.role))

    @queue_api
    @answering
    async def flag(request):
        flagged = await desk.flag_for_training(int(request.match_info["message_id"]), identity(request).name)
        return {"flagged": flagged}

    @queue_api
    @answering
    async def agents(request):
        async with db.session() as session:
            return {"agents": await store.agent_names(session, QUEUE_ROLES)}

    @queue_api
    @answering
    async def canned(request):
        async with db.session() as session:
            rows = await store.canned_responses(session)
        return {"canned": [{"id": c.id, "shortcut": c.shortcut, "text": c.text} for c in rows],
                "may_edit": identity(request).role in CANNED_EDITORS}

    @canned_editor_api
    @answering
    async def save_canned(request):
        body = await json_body(request)
        shortcut = text_field(body, "shortcut", 64).strip().lstrip("/").lower()
        if not set(shortcut) <= SHORTCUT_CHARS:
            raise DeskError("a shortcut is letters, digits, '-' and '_'", 400)
        async with db.session() as session:
            saved = await store.save_canned(session, shortcut, text_field(body, "text").strip(),
                                            identity(request).name, utcnow())
        return {"id": saved.id, "shortcut": saved.shortcut}

    @canned_editor_api
    @answering
    async def delete_canned(request):
        async with db.session() as session:
            if not await store.delete_canned(session, int(request.match_info["canned_id"])):
                raise DeskError("no such canned response", 404)

    @supervisor_api
    @answering
    async def team(request):
        async with db.session() as session:
            load = await store.agents_load(session)
        return {"agents": [{"name": a.name, "display_name": a.display_name, "role": a.role, "active": a.active,
                            "assigned": a.assigned,
                            "last_login_at": a.last_login_at.isoformat() if a.last_login_at else None}
                           for a in load]}

    @admin_api
    @answering
    async def agent_display_name(request):
        """An admin sets (or, with null, removes) the name customers see for an account."""
        body = await json_body(request)
        wanted = body.get("display_name")
        if "display_name" not in body:
            raise DeskError("give 'display_name': text, or null to show the login name", 400)
        try:
            shown = await set_display_name(db, request.match_info["name"], wanted, by=identity(request).name)
        except AccountError as error:
            raise DeskError(str(error), 404 if isinstance(error, NoSuchAccount) else 400) from error
        return {"name": request.match_info["name"], "display_name": shown}

    conversation_path = r"/api/conversations/{conversation_id:\d+}"
    return [
        web.get("/api/queue", queue),
        web.get(conversation_path, conversation),
        web.post(f"{conversation_path}/claim", claim),
        web.post(f"{conversation_path}/reply", reply),
        web.post(f"{conversation_path}/notes", note),
        web.post(f"{conversation_path}/transfer", transfer),
        web.post(f"{conversation_path}/resolve", resolve),
        web.post(f"{conversation_path}/handback", handback),
        web.post(f"{conversation_path}/reopen", reopen),
        web.post(r"/api/messages/{message_id:\d+}/flag", flag),
        web.get("/api/agents", agents),
        web.get("/api/canned", canned),
        web.post("/api/canned", save_canned),
        web.delete(r"/api/canned/{canned_id:\d+}", delete_canned),
        web.get("/api/team", team),
        web.post(r"/api/agents/{name:[A-Za-z0-9._-]{1,64}}/display-name", agent_display_name),
    ]
