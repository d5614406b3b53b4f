"""The customer web chat: the page, and its WebSocket (protocol in channels/webchat.py)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from aiohttp import WSMsgType, web

from bot.bus import Bus, customer_topic
from bot.client_address import Network, client_address
from bot.inbox import Inbox, RateLimited, StorageUnavailable
from bot.storage import accounts, history
from bot.storage.database import Database
from bot.web.pages import render
from channels import untrusted_json
from channels.base import WebhookRejected
from channels.webchat import WebchatChannel, message_frame

logger = logging.getLogger(__name__)

WS_PATH = "/webhooks/webchat/ws"
SENDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def webchat_routes(channel: WebchatChannel, inbox: Inbox, db: Database, bus: Bus, templates,
                   brand_name: str, max_frame_bytes: int = 512 * 1024,
                   proxies: Sequence[Network] = ()) -> list[web.RouteDef]:
    async def page(_: web.Request) -> web.Response:
        return render(templates, "chat.html", brand_name=brand_name, ws_path=WS_PATH)

    async def socket(request: web.Request) -> web.WebSocketResponse:
        sender = request.query.get("sender", "")
        if not SENDER_ID.match(sender):
            raise web.HTTPBadRequest(text="'sender' must be 1-128 letters, digits or -_.:")
        address = client_address(request, proxies)
        # A frame larger than a REST body may be (MAX_BODY_BYTES) is not read: the socket is
        # closed with 1009 "message too big" instead of aiohttp's default of 4 MB being parsed.
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=max_frame_bytes)
        await ws.prepare(request)
        async with bus.subscribe(customer_topic(f"{channel.name}:{sender}")) as updates:
            await ws.send_json(await history_frame(db, channel.name, sender))
            forwarder = asyncio.create_task(_forward(updates, ws))
            try:
                async for frame in ws:
                    if frame.type == WSMsgType.TEXT:
                        await _receive(frame.data, sender, address, ws)
                    elif frame.type == WSMsgType.BINARY:
                        await ws.send_json({"type": "error", "reason": "frames must be JSON text", "client_id": None})
            finally:
                forwarder.cancel()
        return ws

    async def _receive(raw: str, sender: str, address: str, ws: web.WebSocketResponse) -> None:
        try:
            message = channel.parse_frame(sender, raw, address)
            await inbox.accept([message], refuse_over_rate=True)
        except RateLimited as limited:
            reason = ("Too many messages are coming from your network; please wait a moment."
                      if limited.by_address else "You're sending messages very fast; please wait a moment.")
            await ws.send_json({"type": "error", "reason": reason,
                                "retry_after": limited.retry_after, "client_id": _client_id(raw)})
            return
        except WebhookRejected as rejected:
            await ws.send_json({"type": "error", "reason": rejected.reason, "client_id": _client_id(raw)})
            return
        except StorageUnavailable:
            await ws.send_json({"type": "error", "reason": "We couldn't save your message. Please retry.",
                                "client_id": _client_id(raw)})
            return
        await ws.send_json({"type": "ack", "client_id": message.metadata["client_id"]})

    return [web.get("/", page), web.get("/chat", page), web.get(WS_PATH, socket)]


async def _forward(updates, ws: web.WebSocketResponse) -> None:
    while not ws.closed:
        frame = await updates.get(timeout=30)
        if frame is not None and not ws.closed:
            await ws.send_json(frame)


async def history_frame(db: Database, channel: str, sender: str, limit: int = 200) -> dict:
    """The customer's latest conversation as their chat shows it. The history names agents
    by login; the customer sees each one's display name (`agent_name` in the frames)."""
    async with db.session() as session:
        conversation = await history.find_conversation(session, channel, sender)
        if conversation is None:
            return {"type": "history", "messages": [], "status": "bot", "agent_name": None}
        messages = (await history.messages_of(session, conversation.id))[-limit:]
        with_agent = conversation.assigned_agent if conversation.status == "assigned" else None
        shown = await accounts.shown_names(session, [with_agent, *(m.agent_name for m in messages)])
    return {
        "type": "history", "status": conversation.status, "agent_name": shown.get(with_agent),
        "messages": [
            message_frame(m.id, m.author, m.text, (m.data or {}).get("buttons") or [], (m.data or {}).get("image"),
                          shown.get(m.agent_name), m.created_at.isoformat(), m.client_id)
            for m in messages
        ],
    }


def _client_id(raw: str) -> str | None:
    try:
        frame = untrusted_json.loads(raw)
    except WebhookRejected:
        return None
    value = frame.get("client_id") if isinstance(frame, dict) else None
    return value if isinstance(value, str) else None
