"""The web chat's WebSocket over real HTTP (the web role of the app, on both backends): what a
customer's widget may send, and the clear error frame for what it may not."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import Roles, create_app
from bot.settings import Settings
from bot.storage.models import InboxItem

MAX_TEXT = 200
MAX_BODY = 4096


@pytest.fixture
async def client(db, database_url, tmp_path):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(tmp_path / "models"), "MAX_TEXT_CHARS": str(MAX_TEXT),
                                      "MAX_BODY_BYTES": str(MAX_BODY)})
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


async def stored(db) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(InboxItem.platform_message_id).order_by(InboxItem.id))).all())


async def next_of(ws, kind: str) -> dict:
    while True:
        frame = await ws.receive_json(timeout=10)
        if frame["type"] == kind:
            return frame


def postback(payload: str, client_id: str) -> dict:
    return {"type": "postback", "title": "Rate 5", "payload": payload, "client_id": client_id}


async def test_a_payload_longer_than_a_text_may_be_gets_an_error_frame_and_is_not_stored(client, db):
    async with client.ws_connect("/webhooks/webchat/ws?sender=web-payload") as ws:
        await next_of(ws, "history")
        await ws.send_json(postback("/rate" + "x" * MAX_TEXT, "too-long"))
        assert await ws.receive_json(timeout=10) == {
            "type": "error", "reason": f"the payload is longer than {MAX_TEXT} characters", "client_id": "too-long"}
        # The socket stays open: a payload within the bound is taken.
        within = '/rate{"score": 5}'.ljust(MAX_TEXT, " ")
        await ws.send_json(postback(within, "within"))
        assert (await next_of(ws, "ack"))["client_id"] == "within"
    assert await stored(db) == ["web-payload:within"]


async def test_a_frame_larger_than_a_body_may_be_closes_the_socket_with_1009(client, db):
    async with client.ws_connect("/webhooks/webchat/ws?sender=web-frame") as ws:
        await next_of(ws, "history")
        await ws.send_str(json.dumps(postback("/x", "huge") | {"padding": "x" * MAX_BODY}))
        closed = await ws.receive(timeout=10)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(InboxItem)) == 0
