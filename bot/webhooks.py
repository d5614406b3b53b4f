"""One route factory for every channel: handshake, verify, parse, store, acknowledge.

The acknowledgement comes after the messages are committed to the inbox and before any
NLU runs. Rasa's REST channel is the one exception its contract demands: it answers
with the replies, so its route waits for the worker.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from aiohttp import web

from bot import metrics
from bot.client_address import Network, client_address
from bot.inbox import Inbox, RateLimited, StorageUnavailable
from bot.messages import Button, IncomingMessage, OutgoingMessage, StatusUpdate
from bot.storage.models import Message
from channels.base import Channel, WebhookRejected, WebhookRequest
from channels.registry import missing_settings
from channels.rest import RestChannel

logger = logging.getLogger(__name__)


def _request(request: web.Request, body: bytes, proxies: Sequence[Network] = ()) -> WebhookRequest:
    return WebhookRequest(method=request.method, headers=request.headers, query=request.query, body=body,
                          client_address=client_address(request, proxies))


def too_many(limited: RateLimited) -> web.Response:
    return web.json_response({"error": str(limited), "retry_after": math.ceil(limited.retry_after)}, status=429,
                             headers={"Retry-After": str(math.ceil(limited.retry_after))})


def rejection(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _read_body(request: web.Request, limit: int) -> bytes:
    too_large = WebhookRejected(413, f"the body is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        # aiohttp stops reading at the application's client_max_size (the largest route limit).
        raise too_large from error
    if len(body) > limit:  # chunked: no length was announced
        raise too_large
    return body


def _not_configured(channel: Channel) -> web.Response | None:
    missing = missing_settings(channel)
    if not missing:
        return None
    logger.warning("%s webhook refused: set %s", channel.name, ", ".join(missing))
    return rejection(403, f"{channel.name} is not configured: set {', '.join(missing)}")


def channel_routes(channel: Channel, inbox: Inbox, max_body_bytes: int,
                   proxies: Sequence[Network] = ()) -> list[web.RouteDef]:
    path = f"/webhooks/{channel.name}/webhook"

    async def handshake(request: web.Request) -> web.Response:
        if (refused := _not_configured(channel)) is not None:
            return refused
        try:
            answer = channel.handshake(_request(request, b""))
        except WebhookRejected as rejected:
            return rejection(rejected.status, rejected.reason)
        if answer is None:
            return web.json_response({"status": "ok", "channel": channel.name})
        return web.Response(status=answer.status, text=answer.body, content_type=answer.content_type)

    async def receive(request: web.Request) -> web.Response:
        started = time.perf_counter()
        if (refused := _not_configured(channel)) is not None:
            return refused
        try:
            parsed = channel.parse(_request(request, await _read_body(request, max_body_bytes), proxies))
            messages = [p for p in parsed if isinstance(p, IncomingMessage)]
            await inbox.record_statuses([p for p in parsed if isinstance(p, StatusUpdate)])
            accepted = await inbox.accept(messages)
        except WebhookRejected as rejected:
            logger.info("%s webhook rejected: %s", channel.name, rejected.reason)
            return rejection(rejected.status, rejected.reason)
        except StorageUnavailable:
            return rejection(503, "storage unavailable, retry later")
        except RateLimited as limited:  # an open channel's client address over its rate
            return too_many(limited)
        if (acknowledgement := getattr(channel, "acknowledgement", None)) is not None:
            return web.Response(text=acknowledgement)  # Rasa's callback channel answers "success"
        duplicates = sum(a.duplicate for a in accepted)
        metrics.acknowledged(channel.name, time.perf_counter() - started)
        return web.json_response({"status": "ok", "accepted": len(accepted) - duplicates, "duplicates": duplicates})

    return [web.get(path, handshake), web.post(path, receive)]


def rest_routes(channel: RestChannel, inbox: Inbox, reply_timeout: float, max_body_bytes: int,
                proxies: Sequence[Network] = ()) -> list[web.RouteDef]:
    path = f"/webhooks/{channel.name}/webhook"

    async def status(request: web.Request) -> web.Response:
        try:
            channel.authorise(_request(request, b"", proxies))
        except WebhookRejected as rejected:
            return _refused(rejected)
        return web.json_response({"status": "ok"})

    async def receive(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            # The token first: without it nothing of the request is read.
            channel.authorise(_request(request, b"", proxies))
            messages = channel.parse(_request(request, await _read_body(request, max_body_bytes), proxies))
            accepted = await inbox.accept(messages, refuse_over_rate=True)
        except WebhookRejected as rejected:
            return _refused(rejected)
        except StorageUnavailable:
            return rejection(503, "storage unavailable, retry later")
        except RateLimited as limited:
            return too_many(limited)
        (item,) = accepted
        accepted_at = time.perf_counter()
        # The client's request goes on until the answer; what a platform would wait for ends here.
        metrics.acknowledged(channel.name, accepted_at - started)
        if not await inbox.wait_processed(item.inbox_id, reply_timeout):
            # Accepted and safe; the answer will be in the history. Rasa clients get [].
            return web.json_response([])
        replies = await inbox.replies_to(item.inbox_id, mark_delivered=not item.duplicate)
        if replies and not item.duplicate:
            metrics.replied(channel.name, time.perf_counter() - accepted_at)
        return web.json_response([_rasa_reply(reply, messages[0].sender_id) for reply in replies])

    return [web.get(path, status), web.get(f"/webhooks/{channel.name}", status), web.post(path, receive)]


def _refused(rejected: WebhookRejected) -> web.Response:
    response = rejection(rejected.status, rejected.reason)
    if rejected.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rest"'
    return response


def _rasa_reply(message: Message, recipient: str) -> dict:
    data = message.data or {}
    return OutgoingMessage(
        channel="rest", recipient_id=recipient, text=message.text,
        buttons=tuple(Button(**b) for b in data.get("buttons") or ()),
        image=data.get("image"), custom=data.get("custom"),
    ).as_rasa_response()
