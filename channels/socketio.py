"""socket.io for chat widgets built for Rasa (rasa-webchat, botfront's widget), unchanged.

The protocol is Rasa's SocketIOInput with session persistence on: "session_request"
{"session_id"?} is answered by "session_confirm" with the session id (a new one if none);
"user_uttered" {"message", "session_id", "customData"?} is the customer; replies go out as
"bot_uttered" in the shapes of Rasa's SocketIOOutput. The session id is the customer's
sender id and the room every socket of that session joins, so another tab gets the replies
too. `send()` publishes a reply on the bus; the process that holds the session's sockets
forwards it to the room, so agent replies arrive live the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import uuid
from typing import Any

import engineio
import jwt
import socketio
from socketio.exceptions import ConnectionRefusedError as Refused
from aiohttp import web

from bot.bus import Bus, customer_topic
from bot.client_address import client_address, parse_proxies
from bot.http import HttpClient
from bot.inbox import Inbox, RateLimited, StorageUnavailable
from bot.messages import IncomingMessage, OutgoingMessage
from bot.settings import Settings
from bot.storage.database import Database
from channels.base import Delivery, HandshakeResponse, SendResult, WebhookRejected, WebhookRequest
from channels.untrusted_json import without_lone_surrogates

logger = logging.getLogger(__name__)

NAME = "socketio"
SOCKETIO_PATH = "socket.io"  # Rasa's default: the widget connects to /socket.io/
USER_UTTERED, BOT_UTTERED = "user_uttered", "bot_uttered"
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# The `type` of our notices on a customer's bus topic (other notices there are not ours).
FRAMES = "socketio.bot_uttered"


def bot_frames(message: OutgoingMessage) -> list[dict[str, Any]]:
    """One reply as Rasa's SocketIOOutput emits it: a frame per paragraph, the buttons as
    quick replies on the last one, then the image; a custom {"data": ...} is passed as is."""
    frames: list[dict[str, Any]] = [{"text": part.strip()} for part in message.text.strip().split("\n\n")
                                    if part.strip()]
    if message.buttons:
        frames = frames or [{"text": ""}]
        frames[-1]["quick_replies"] = [{"content_type": "text", "title": b.title, "payload": b.payload}
                                       for b in message.buttons]
    if message.image:
        frames.append({"attachment": {"type": "image", "payload": {"src": message.image}}})
    if isinstance((message.custom or {}).get("data"), dict):
        frames.append(message.custom["data"])
    return frames


def session_of(data: Any) -> str | None:
    """The session id a frame names, None when it names none; a bad one is a 400."""
    requested = data.get("session_id") if isinstance(data, dict) else None
    if requested is None or requested == "":
        return None
    if not isinstance(requested, str) or not SESSION_ID.match(requested):
        raise WebhookRejected(400, "'session_id' must be 1-128 letters, digits or -_.:")
    return requested


def user_message(session_id: str, data: Any, max_text_chars: int) -> IncomingMessage:
    """A "user_uttered" frame as the customer's message (a "/intent" text is a button's payload)."""
    if not isinstance(data, dict):
        raise WebhookRejected(400, "user_uttered takes an object: {\"message\", \"session_id\"}")
    # python-socketio decoded the packet: an escaped unpaired surrogate is still in it.
    data = without_lone_surrogates(data)
    text = data.get("message")
    if not isinstance(text, str) or not text.strip():
        raise WebhookRejected(400, "'message' must be a non-empty string")
    if len(text) > max_text_chars:
        raise WebhookRejected(400, f"'message' is longer than {max_text_chars} characters")
    custom = data.get("customData") if isinstance(data.get("customData"), dict) else {}
    client_id = custom.get("message_id")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 120):
        raise WebhookRejected(400, "'customData.message_id' must be a short non-empty string")
    return IncomingMessage(
        channel=NAME, sender_id=session_id, text=text.strip(),
        # socket.io has no message ids: a client's own id is scoped to its session.
        message_id=f"{session_id}:{client_id}" if client_id else uuid.uuid4().hex,
        payload=text.strip() if text.strip().startswith("/") else None,
        metadata={key: data[key] for key in ("customData", "metadata") if isinstance(data.get(key), dict)},
    )


def cors_origins(setting: str) -> list[str] | str:
    """"" → [] (no origin check, as Rasa); "*" → any; else the comma-separated origins."""
    origins = [o.strip() for o in setting.split(",") if o.strip()]
    return "*" if "*" in origins else origins


class SocketioChannel:
    name = NAME

    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.bus = bus
        self.max_text_chars = settings.max_text_chars
        self.proxies = parse_proxies(settings.trusted_proxies)
        self.jwt_key = settings.socketio_jwt_key
        self.jwt_method = settings.socketio_jwt_method
        self.cors_allowed_origins = cors_origins(settings.socketio_cors_origins)
        self.missing_settings: tuple[str, ...] = () if settings.socketio_enabled else ("SOCKETIO_ENABLED",)

    def handshake(self, request: WebhookRequest) -> HandshakeResponse | None:
        return None

    def parse(self, request: WebhookRequest) -> list[IncomingMessage]:
        raise WebhookRejected(405, f"socket.io clients connect to /{SOCKETIO_PATH}/")

    async def send(self, delivery: Delivery) -> SendResult:
        frames = bot_frames(delivery.message)
        if not frames:
            return SendResult.failed("nothing a socket.io widget can show (no text, buttons or image)")
        await self.bus.publish(customer_topic(f"{NAME}:{delivery.message.recipient_id}"),
                               {"type": FRAMES, "frames": frames})
        return SendResult.sent(f"{NAME}-{delivery.history_id}")

    def attach(self, app: web.Application, inbox: Inbox, db: Database) -> None:
        """Mount the socket.io server at /socket.io/ (bot/app.py calls this instead of the webhook routes)."""
        if self.missing_settings:
            reason = f"{NAME} is not configured: set {', '.join(self.missing_settings)}"

            async def refused(_: web.Request) -> web.Response:
                logger.warning("%s connection refused: set %s", NAME, ", ".join(self.missing_settings))
                return web.json_response({"error": reason}, status=403)

            app.router.add_route("*", f"/{SOCKETIO_PATH}/", refused)
            return
        if not self.cors_allowed_origins:
            # rasa-webchat starts on long-polling: without CORS headers the browser refuses the
            # service's answers on any other site, and the widget stays hidden, with no error here.
            logger.warning("%s: SOCKETIO_CORS_ORIGINS is empty: only pages served from this service's own "
                           "address can connect; set it to the origins of the sites that carry the widget",
                           NAME)
        # Handlers run one at a time per socket, so a customer's messages are stored in order.
        server = _Server(async_mode="aiohttp", cors_allowed_origins=self.cors_allowed_origins,
                         async_handlers=False)
        sessions = _Sessions(self, server, inbox)
        server.on("connect", sessions.connect)
        server.on("disconnect", sessions.disconnect)
        server.on("session_request", sessions.session_request)
        server.on(USER_UTTERED, sessions.user_uttered)
        server.on("*", sessions.unknown_event)
        guarded = _guarded(server)
        for method in ("GET", "POST", "OPTIONS"):  # what python-engineio's attach() routes
            app.router.add_route(method, f"/{SOCKETIO_PATH}/", guarded)
        app.on_shutdown.append(sessions.close)


def token_subject(auth: Any, key: str, method: str) -> str:
    """The session a connecting widget's JWT names (its `sub`), as Rasa's socketio
    `jwt_key` checks it: `auth: {"token": "<JWT>"}`, with or without "Bearer ". Anything
    else refuses the connection, with the reason."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise Refused("a token is required: connect with auth {\"token\": JWT}")
    token = token.strip().removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(token, key, algorithms=[method], options={"require": ["sub"]})
    except jwt.PyJWTError as error:
        raise Refused(f"the token is not valid: {error}") from error
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SESSION_ID.match(subject):
        raise Refused("the token's 'sub' must be 1-128 letters, digits or -_.:")
    return subject
# What python-socketio and python-engineio raise on a packet they cannot read.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, RecursionError)


class _Server(socketio.AsyncServer):
    """python-socketio raises on an event packet it cannot read (bad JSON, no event name, a
    name that is not a string), and Engine.IO logs each as an error with its traceback: any
    client could fill the log. Such a client speaks no Socket.IO; it is disconnected."""

    async def _handle_eio_connect(self, eio_sid: str, environ: dict) -> Any:
        # The Engine.IO socket exists (python-engineio made it just before this event) and has
        # read nothing yet: from here on its packets pass _Socket's check first.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is engineio.async_socket.AsyncSocket:
            socket.__class__ = _Socket
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if eio_sid in self._binary_packet and not isinstance(data, bytes):
            # A packet announced binary attachments ("45-", "46-") and text came instead.
            return await self._refuse(eio_sid, "text where a binary attachment was due")
        if eio_sid not in self._binary_packet and not isinstance(data, str):
            return await self._refuse(eio_sid, "binary data where no attachment was due")
        if isinstance(data, str) and eio_sid not in self._binary_packet:
            try:
                packet = self.packet_class(encoded_packet=data)
            except _UNREADABLE as error:
                return await self._refuse(eio_sid, f"an unreadable packet ({type(error).__name__})")
            if packet.packet_type not in range(len(socketio.packet.packet_names)):
                return await self._refuse(eio_sid, "a packet of no Socket.IO type")
            if packet.packet_type == socketio.packet.CONNECT_ERROR:  # only ever sent by servers
                return await self._refuse(eio_sid, "a connect-error packet from a client")
            if packet.packet_type == socketio.packet.EVENT and not (
                    isinstance(packet.data, list) and packet.data and isinstance(packet.data[0], str)):
                return await self._refuse(eio_sid, "an event packet without an event name")
            if packet.packet_type != socketio.packet.CONNECT and not self._connected(eio_sid, packet.namespace):
                # python-socketio would drop it silently, and the client wait for an answer
                # that never comes; the reference server (Node's) closes such a connection.
                return await self._refuse(eio_sid, "a packet for a namespace the client has not joined")
        await super()._handle_eio_message(eio_sid, data)

    def _connected(self, eio_sid: str, namespace: str | None) -> bool:
        namespace = namespace or "/"
        return self.manager.is_connected(self.manager.sid_from_eio_sid(eio_sid, namespace), namespace)

    async def _refuse(self, eio_sid: str, reason: str) -> None:
        logger.info("socketio: %s; disconnecting the client", reason)
        await self.eio.disconnect(eio_sid)


class _Socket(engineio.async_socket.AsyncSocket):
    """python-engineio decodes any digit as a packet type, then raises IndexError on the
    ones it has no name for (7, 8, 9) and logs "Unknown receive error" with its traceback:
    any client could fill the log. A client that sends one speaks no Engine.IO: it is told
    to go (Engine.IO's close), and the packet raises the error python-engineio expects of
    an unknown packet (ignored on a WebSocket, a 400 on a long-polling POST)."""

    async def receive(self, pkt: engineio.packet.Packet) -> None:
        if pkt.packet_type not in range(len(engineio.packet.packet_names)):
            logger.info("socketio: an Engine.IO packet of no known type; disconnecting the client")
            await self.close(wait=False, reason=self.server.reason.TRANSPORT_ERROR)
            raise engineio.exceptions.UnknownPacketError()
        await super().receive(pkt)


class _BrokenOff(web.StreamResponse):
    """Handed to aiohttp for a WebSocket that Engine.IO answered and then broke off: the
    connection is closed, and nothing more is written on it."""

    def __init__(self) -> None:
        super().__init__()
        self.force_close()

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def _guarded(server: socketio.AsyncServer):
    """Engine.IO's request handler, except that a WebSocket frame which is no Engine.IO packet
    (its type not a digit) ends that connection quietly instead of raising out of the handler."""
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await server.handle_request(request)
        except _UNREADABLE as error:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                raise
            logger.info("socketio: a WebSocket frame that is no Engine.IO packet (%s); connection closed",
                        type(error).__name__)
            return _BrokenOff()
    return handle


class _Sessions:
    """The sockets of each session held by this process, and one bus forwarder per session."""

    def __init__(self, channel: SocketioChannel, server: socketio.AsyncServer, inbox: Inbox) -> None:
        self.channel, self.server, self.inbox = channel, server, inbox
        self.session_by_sid: dict[str, str] = {}
        self.sids: dict[str, set[str]] = {}
        self.forwarders: dict[str, asyncio.Task] = {}
        # Per socket: the client's address (for the per-address limits) and, with a JWT
        # key set, the one session its token allows.
        self.address_by_sid: dict[str, str] = {}
        self.subject_by_sid: dict[str, str] = {}

    async def connect(self, sid: str, environ: dict, auth: Any = None) -> bool:
        if self.channel.jwt_key:
            self.subject_by_sid[sid] = token_subject(auth, self.channel.jwt_key, self.channel.jwt_method)
        request = environ.get("aiohttp.request")
        if request is not None:
            self.address_by_sid[sid] = client_address(request, self.channel.proxies)
        return True

    async def disconnect(self, sid: str, *reason: Any) -> None:
        self.address_by_sid.pop(sid, None)
        self.subject_by_sid.pop(sid, None)
        await self._leave(sid)

    async def session_request(self, sid: str, data: Any = None, *_: Any) -> None:
        try:
            session = session_of(data)
        except WebhookRejected as rejected:
            logger.info("socketio: %s; starting a new session", rejected.reason)
            session = None
        # With a token, its subject is the session, whatever the widget remembered.
        session = self.subject_by_sid.get(sid) or session or uuid.uuid4().hex
        await self._join(sid, session)
        await self.server.emit("session_confirm", session, to=sid)

    async def user_uttered(self, sid: str, data: Any = None, *_: Any) -> None:
        try:
            session = self._session_for(sid, session_of(data))
            await self._join(sid, session)
            message = user_message(session, data, self.channel.max_text_chars)
            await self.inbox.accept([dataclasses.replace(message, client_address=self.address_by_sid.get(sid))])
        except WebhookRejected as rejected:
            await self.server.emit("error", {"reason": rejected.reason}, to=sid)
        except RateLimited as limited:
            reason = ("Too many messages are coming from your network; please wait a moment."
                      if limited.by_address else "You're sending messages very fast; please wait a moment.")
            await self.server.emit("error", {"reason": reason, "retry_after": limited.retry_after}, to=sid)
        except StorageUnavailable:
            await self.server.emit("error", {"reason": "We couldn't save your message. Please retry."}, to=sid)

    async def unknown_event(self, event: str, sid: str, *_: Any) -> None:
        # Answered (and acknowledged), so a widget of another protocol learns what is spoken here.
        logger.info("socketio: an event of no known name; told the client")
        await self.server.emit("error", {"reason": f"unknown event; send {USER_UTTERED!r} or 'session_request'"},
                               to=sid)

    def _session_for(self, sid: str, requested: str | None) -> str:
        subject = self.subject_by_sid.get(sid)
        if subject is None:
            return requested or self.session_by_sid.get(sid) or sid
        if requested is not None and requested != subject:
            raise WebhookRejected(403, "this token is for another session")
        return subject

    async def close(self, _: web.Application) -> None:
        for sid in list(self.session_by_sid):
            await self.server.disconnect(sid)
        for task in self.forwarders.values():
            task.cancel()
        await asyncio.gather(*self.forwarders.values(), return_exceptions=True)
        await self.server.shutdown()

    async def _join(self, sid: str, session: str) -> None:
        if self.session_by_sid.get(sid) == session:
            return
        await self._leave(sid)
        self.session_by_sid[sid] = session
        self.sids.setdefault(session, set()).add(sid)
        await self.server.enter_room(sid, session)
        if session not in self.forwarders:
            subscribed = asyncio.Event()
            task = asyncio.create_task(self._forward(session, subscribed), name=f"socketio-forward-{session}")
            task.add_done_callback(_log_crash)
            self.forwarders[session] = task
            # Subscribed before the session is confirmed, so no reply can slip past.
            waiter = asyncio.ensure_future(subscribed.wait())
            await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

    async def _leave(self, sid: str) -> None:
        session = self.session_by_sid.pop(sid, None)
        if session is None:
            return
        await self.server.leave_room(sid, session)
        members = self.sids.get(session, set())
        members.discard(sid)
        if not members:
            self.sids.pop(session, None)
            if (task := self.forwarders.pop(session, None)) is not None:
                task.cancel()

    async def _forward(self, session: str, subscribed: asyncio.Event) -> None:
        async with self.channel.bus.subscribe(customer_topic(f"{NAME}:{session}")) as updates:
            subscribed.set()
            while True:
                notice = await updates.get(timeout=30)
                if notice is not None and notice.get("type") == FRAMES:
                    for frame in notice["frames"]:
                        await self.server.emit(BOT_UTTERED, frame, room=session)


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s stopped", task.get_name(), exc_info=task.exception())


def build(settings: Settings, http: HttpClient, bus: Bus) -> SocketioChannel:
    return SocketioChannel(settings, bus)
