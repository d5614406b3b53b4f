"""Fake platform APIs on 127.0.0.1, for trying the channels by hand (docs/channels.md).

Point META_GRAPH_URL, TWITTER_API_URL and TELEGRAM_API_URL at it: every request the
service makes is printed (method, path, JSON body) and answered the way the platform
answers a successful call, so the service records its replies as sent.

    .venv/bin/python scripts/fake_platforms.py --port 8090
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

from aiohttp import web

_ids = itertools.count(1)


def answer(path: str, body: dict) -> dict:
    """The success body each platform sends for this call."""
    n = next(_ids)
    segments = path.strip("/").split("/")
    if segments[0].startswith("bot") and len(segments) == 2:  # Telegram: /bot<token>/<method>
        if segments[1].startswith("send"):
            return {"ok": True, "result": {"message_id": n, "date": int(time.time()),
                                           "chat": {"id": body.get("chat_id"), "type": "private"}}}
        return {"ok": True, "result": True}
    if "dm_conversations" in segments:  # X: /2/dm_conversations/with/<id>/messages
        return {"data": {"dm_conversation_id": f"fake-conversation-{n}", "dm_event_id": f"fake-dm-{n}"}}
    if path.endswith("/me/messages"):  # Messenger and Instagram Send API
        recipient = body.get("recipient") or {}
        return {"recipient_id": recipient.get("id") or f"fake-psid-{n}", "message_id": f"m_fake-{n}"}
    if path.endswith("/messages"):  # WhatsApp Cloud API: /<phone-number-id>/messages
        return {"messaging_product": "whatsapp", "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": f"wamid.fake-{n}"}]}
    if path.endswith(("/comments", "/replies")):  # public replies under a comment
        return {"id": f"fake-comment-{n}"}
    return {"success": True, "id": f"fake-{n}"}


async def handle(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    print(f"{request.method} {request.path} {raw.decode(errors='replace')[:2000]}", flush=True)
    return web.json_response(answer(request.path, body if isinstance(body, dict) else {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    port = parser.parse_args().port
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    print(f"fake platform APIs on http://127.0.0.1:{port}: set META_GRAPH_URL, TWITTER_API_URL and "
          f"TELEGRAM_API_URL to it; Ctrl-C stops", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
