"""The console's WebSocket: the queue (and the open conversation) pushed live.

A notice on CONSOLE_TOPIC (a customer wrote, someone claimed, a delivery was recorded...)
makes the socket re-read and re-send the snapshot; notices arriving together are sent as
one. Snapshots rather than deltas: a page that missed a notice is right again at the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from aiohttp_session import get_session

from bot.bus import CONSOLE_TOPIC, Bus
from bot.console.auth import QUEUE_ROLES
from bot.console.desk import Desk, DeskError

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.1
# Without notices, a fresh snapshot now and then: wait times and a lost notice.
REFRESH_SECONDS = 20.0


def live_routes(bus: Bus, desk: Desk) -> list[web.RouteDef]:
    async def socket(request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        refused = refusal(request, session, QUEUE_ROLES)
        if refused is not None:
            return refused
        watched = request.query.get("conversation")
        conversation_id = int(watched) if watched and watched.isdigit() else None
        return await serve_socket(request, bus, CONSOLE_TOPIC,
                                  lambda ws, notices: _push(ws, notices, desk, session["agent"], conversation_id))

    return [web.get("/ws", socket)]


def refusal(request: web.Request, session, roles: frozenset[str]) -> web.Response | None:
    """Why a console WebSocket is refused, or None."""
    if not session.get("agent"):
        return web.json_response({"error": "log in first"}, status=401)
    if session.get("role") not in roles:
        return web.json_response({"error": "your role may not do this"}, status=403)
    if not same_origin(request):
        # The cookie would ride along on a cross-site WebSocket; the Origin header does not lie.
        return web.json_response({"error": "cross-origin WebSocket refused"}, status=403)
    return None


async def serve_socket(request: web.Request, bus: Bus, topic: str,
                       push: Callable[[web.WebSocketResponse, Any], Awaitable[None]]) -> web.WebSocketResponse:
    """A WebSocket fed by `push` with the notices of `topic`, until the page goes away."""
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    async with bus.subscribe(topic) as notices:
        pusher = asyncio.create_task(push(ws, notices))
        try:
            async for frame in ws:
                if frame.type == WSMsgType.ERROR:
                    break
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
    return ws


async def _push(ws: web.WebSocketResponse, notices, desk: Desk, agent: str, conversation_id: int | None) -> None:
    try:
        await _send(ws, desk, agent, conversation_id, conversation_changed=True)
        while not ws.closed:
            notice = await notices.get(timeout=REFRESH_SECONDS)
            touched = {notice.get("conversation_id")} if notice else set()
            # Let a burst of notices (a reply and its delivery) settle into one snapshot.
            await asyncio.sleep(COALESCE_SECONDS)
            while (more := await notices.get(timeout=0.01)) is not None:
                touched.add(more.get("conversation_id"))
            await _send(ws, desk, agent, conversation_id,
                        conversation_changed=notice is None or conversation_id in touched)
    except asyncio.CancelledError:
        raise
    except (ConnectionResetError, RuntimeError):
        pass  # the page went away
    except Exception:
        logger.exception("console live updates for %s stopped", agent)
        await ws.close()


async def _send(ws: web.WebSocketResponse, desk: Desk, agent: str, conversation_id: int | None,
                conversation_changed: bool) -> None:
    if ws.closed:
        return
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
