"""The console's WebSocket: the queue (and the open conversation) pushed live.

A notice on CONSOLE_TOPIC (a customer wrote, someone claimed, a delivery was recorded...)
makes the socket re-read and re-send the snapshot; notices arriving together are sent as
one. Snapshots rather than deltas: a page that missed a notice is right again at the next.

A socket lives no longer than the session that opened it: when a session ends (logout,
account disabled, password changed) a notice on SESSIONS_TOPIC makes every process's
sockets check theirs, each socket checks anyway every SESSION_CHECK_SECONDS (for notices
lost, or an account changed from the CLI without a bus), and no snapshot is sent without
checking first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp_session import get_session

from bot.bus import CONSOLE_TOPIC, SESSIONS_TOPIC, Bus
from bot.console.auth import QUEUE_ROLES
from bot.console.desk import Desk, DeskError
from bot.console.sessions import MUST_CHANGE_PASSWORD, DatabaseStorage

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.1
# Without notices, a fresh snapshot now and then: wait times and a lost notice.
REFRESH_SECONDS = 20.0
# How long an ended session's socket may stay open when no notice reaches it: one
# primary-key read per open socket and period.
SESSION_CHECK_SECONDS = 1.0
SESSION_ENDED = b"session ended"

Alive = Callable[[], Awaitable[bool]]


class SessionEnded(Exception):
    """The socket's session is gone: stop sending."""


def session_check(storage: DatabaseStorage, session) -> Alive:
    key = session.identity
    return lambda: storage.alive(key)


# A page's feed: sends what `notices` (a bus subscription) call for until the socket closes.
Push = Callable[[web.WebSocketResponse, Any, Alive], Awaitable[None]]


def live_routes(bus: Bus, desk: Desk, storage: DatabaseStorage) -> list[web.RouteDef]:
    def queue_feed(request: web.Request, agent: str) -> Push:
        watched = request.query.get("conversation")
        conversation_id = int(watched) if watched and watched.isdigit() else None
        return lambda ws, notices, alive: _push(ws, notices, desk, agent, conversation_id, alive)

    return [web.get("/ws", console_socket(bus, storage, CONSOLE_TOPIC, QUEUE_ROLES, "the queue's", queue_feed))]


def console_socket(bus: Bus, storage: DatabaseStorage, topic: str, roles: frozenset[str], what: str,
                   feed: Callable[[web.Request, str], Push]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of a console WebSocket: refused (with the reason) unless its session may
    use it; otherwise fed by `feed(request, agent)` with the notices of `topic` until the
    page goes away or the session ends."""
    async def socket(request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        refused = refusal(request, session, roles)
        if refused is not None:
            return refused
        alive = session_check(storage, session)
        push = feed(request, session["agent"])
        return await serve_socket(request, bus, topic, session["agent"], alive,
                                  lambda ws, notices: _fed(push(ws, notices, alive), ws, what))
    return socket


async def _fed(pushing: Awaitable[None], ws: web.WebSocketResponse, what: str) -> None:
    """A page's feed, run to its end: quietly when the page went away or its session ended;
    anything else is logged and closes the socket (the page then reconnects afresh)."""
    try:
        await pushing
    except (ConnectionResetError, RuntimeError):
        pass  # the page went away
    except SessionEnded:
        pass  # the watcher closes the socket at its next check
    except Exception:
        logger.exception("%s live updates stopped", what)
        with contextlib.suppress(Exception):
            await ws.close()


def refusal(request: web.Request, session, roles: frozenset[str]) -> web.Response | None:
    """Why a console WebSocket is refused, or None."""
    if not session.get("agent"):
        return web.json_response({"error": "log in first"}, status=401)
    if session.get("role") not in roles:
        return web.json_response({"error": "your role may not do this"}, status=403)
    if session.get("must_change_password"):
        return web.json_response({"error": MUST_CHANGE_PASSWORD}, status=403)
    if not same_origin(request):
        # The cookie would ride along on a cross-site WebSocket; the Origin header does not lie.
        return web.json_response({"error": "cross-origin WebSocket refused"}, status=403)
    return None


async def serve_socket(request: web.Request, bus: Bus, topic: str, agent: str, alive: Alive,
                       push: Callable[[web.WebSocketResponse, Any], Awaitable[None]]) -> web.WebSocketResponse:
    """A WebSocket fed by `push` with the notices of `topic`, until the page goes away or
    its session ends."""
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    ending = asyncio.Event()
    async with bus.subscribe(topic) as notices, bus.subscribe(SESSIONS_TOPIC) as endings:
        pusher = asyncio.create_task(push(ws, notices))
        watcher = asyncio.create_task(_close_when_ended(ws, endings, agent, alive, ending))
        try:
            async for frame in ws:
                if frame.type == WSMsgType.ERROR:
                    break
        finally:
            pusher.cancel()
            if not ending.is_set():
                watcher.cancel()
            # A watcher that is closing the socket finishes the closing handshake first.
            for task in (pusher, watcher):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return ws


async def _close_when_ended(ws: web.WebSocketResponse, endings, agent: str, alive: Alive,
                            ending: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    checked_at = loop.time()
    try:
        while not ws.closed:
            notice = await endings.get(timeout=max(0.0, checked_at + SESSION_CHECK_SECONDS - loop.time()))
            # Others' logouts are no reason to look, unless the periodic check is due anyway.
            if (notice is not None and notice.get("agent") not in (agent, None)
                    and loop.time() < checked_at + SESSION_CHECK_SECONDS):
                continue
            checked_at = loop.time()
            if not await alive():
                ending.set()
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=SESSION_ENDED)
                return
    except asyncio.CancelledError:
        raise
    except Exception:
        # Unsure whether the session lives (the database is away): do not keep feeding it.
        logger.exception("checking the session of %s's console socket failed; closing it", agent)
        ending.set()
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER)


async def checked(ws: web.WebSocketResponse, alive: Alive) -> None:
    """Before anything is sent: the session still exists, or the socket closes."""
    if not await alive():
        raise SessionEnded


async def _push(ws: web.WebSocketResponse, notices, desk: Desk, agent: str, conversation_id: int | None,
                alive: Alive) -> None:
    await _send(ws, desk, agent, conversation_id, alive, conversation_changed=True)
    while not ws.closed:
        notice = await notices.get(timeout=REFRESH_SECONDS)
        touched = {notice.get("conversation_id")} if notice else set()
        # Let a burst of notices (a reply and its delivery) settle into one snapshot.
        await asyncio.sleep(COALESCE_SECONDS)
        while (more := await notices.get(timeout=0.01)) is not None:
            touched.add(more.get("conversation_id"))
        await _send(ws, desk, agent, conversation_id, alive,
                    conversation_changed=notice is None or conversation_id in touched)


async def _send(ws: web.WebSocketResponse, desk: Desk, agent: str, conversation_id: int | None, alive: Alive,
                conversation_changed: bool) -> None:
    if ws.closed:
        return
    await checked(ws, alive)
    await ws.send_json(await desk.queue(agent))
    if conversation_id is not None and conversation_changed:
        try:
            await ws.send_json(await desk.record(conversation_id, agent))
        except DeskError as error:
            await ws.send_json({"type": "error", "error": str(error)})


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser; the cookie is still required
    return urlsplit(origin).netloc == request.host
