"""Ids too long for their columns, NUL characters, which PostgreSQL refuses in text and
JSON, and NaN or Infinity, which it refuses in JSON: each was an insert error, a 503 the platform retried for ever (found by `make fuzz`).
Over real HTTP routes and the real inbox, on both backends."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bus import LocalBus
from bot.inbox import Inbox
from bot.messages import IncomingMessage, StatusUpdate
from bot.settings import Settings
from bot.storage.models import InboxItem
from bot.webhooks import channel_routes, rest_routes
from channels.base import WebhookRejected
from channels.rest import RestChannel
from tests.channels.test_whatsapp import channel_for, signed
from tests.support.payloads import payload


async def stored(db) -> list[InboxItem]:
    async with db.session() as session:
        return list((await session.execute(select(InboxItem).order_by(InboxItem.id))).scalars())


def app_for(db) -> web.Application:
    settings = Settings()
    inbox = Inbox(db, LocalBus())
    app = web.Application()
    app.router.add_routes(channel_routes(channel_for(), inbox, settings.platform_max_body_bytes))
    app.router.add_routes(rest_routes(RestChannel(), inbox, 0.2, settings.max_body_bytes))
    return app


def whatsapp_delivery(*messages: dict) -> bytes:
    delivery = json.loads(payload("whatsapp", "text"))
    value = delivery["entry"][0]["changes"][0]["value"]
    (template,) = value["messages"]
    value["messages"] = [{**template, **m} for m in messages]
    return json.dumps(delivery).encode()


async def test_a_platform_event_whose_id_is_too_long_is_skipped_and_the_rest_of_the_batch_stored(db):
    batch = whatsapp_delivery({"id": "wamid.ok-1", "text": {"body": "first"}},
                              {"id": "wamid." + "x" * 300, "text": {"body": "id too long"}},
                              {"id": "wamid.ok-2", "text": {"body": "second"}})
    async with TestClient(TestServer(app_for(db))) as client:
        answer = await client.post("/webhooks/whatsapp/webhook", data=batch, headers=signed(batch))
        # A non-2xx would make the platform resend the same batch, with the same id, for ever.
        assert answer.status == 200, await answer.text()
        assert (await answer.json())["accepted"] == 2
    assert [i.platform_message_id for i in await stored(db)] == ["wamid.ok-1", "wamid.ok-2"]


async def test_a_nul_character_is_replaced_and_the_message_stored(db):
    batch = whatsapp_delivery({"id": "wamid.nul", "text": {"body": "where\u0000 is my order?"}})
    async with TestClient(TestServer(app_for(db))) as client:
        answer = await client.post("/webhooks/whatsapp/webhook", data=batch, headers=signed(batch))
        assert answer.status == 200, await answer.text()
        rest = json.dumps({"sender": "s\u00001", "message": "hello\u0000",
                           "metadata": {"k\u0000": ["v\u0000"]}}).encode()
        answer = await client.post("/webhooks/rest/webhook", data=rest, headers={"Content-Type": "application/json"})
        assert answer.status == 200, await answer.text()
    whatsapp, rest = await stored(db)
    assert whatsapp.payload["text"] == "where\ufffd is my order?"
    assert rest.payload["text"] == "hello\ufffd"
    assert rest.payload["sender_id"] == "s\ufffd1" and rest.conversation_key == "rest:s\ufffd1"
    assert rest.payload["metadata"] == {"k\ufffd": ["v\ufffd"]}


async def test_numbers_json_cannot_hold_are_stored_as_null_and_the_message_kept(db):
    # What python-socketio's decoder reads from a widget's customData ("NaN", "Infinity").
    message = IncomingMessage(channel="socketio", sender_id="s-1", message_id="m-nan", text="hi",
                              metadata={"customData": {"a": float("nan"), "b": [float("-inf"), 1.5],
                                                       "c": float("inf")}})
    assert len(await Inbox(db, LocalBus()).accept([message])) == 1
    (item,) = await stored(db)
    assert item.payload["text"] == "hi"
    assert item.payload["metadata"] == {"customData": {"a": None, "b": [None, 1.5], "c": None}}


@pytest.mark.parametrize("field, value", [("sender_id", "s" * 65_000), ("message_id", "m" * 256)],
                         ids=["sender_id", "message_id"])
async def test_an_open_channels_message_with_an_id_too_long_is_refused_with_the_reason(db, field, value):
    inbox = Inbox(db, LocalBus())
    message = IncomingMessage(**{"channel": "webchat", "sender_id": "s1", "text": "hi", "message_id": "m1",
                                 "client_address": "127.0.0.1", field: value})
    with pytest.raises(WebhookRejected) as refused:
        await inbox.accept([message], refuse_over_rate=True)
    assert refused.value.status == 400
    assert field.replace("_", " ") in refused.value.reason
    assert await stored(db) == []


async def test_a_platform_sender_id_too_long_is_skipped_with_a_warning(db, caplog):
    inbox = Inbox(db, LocalBus())
    long_sender = IncomingMessage(channel="twitter", sender_id="9" * 65_000, text="hi", message_id="t1",
                                  sender_name="n" * 1000)
    named = IncomingMessage(channel="twitter", sender_id="42", text="hi", message_id="t2", sender_name="n" * 1000)
    accepted = await inbox.accept([long_sender, named])
    assert len(accepted) == 1
    (item,) = await stored(db)
    assert item.platform_message_id == "t2" and len(item.payload["sender_name"]) == 255
    assert any("sender id" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


async def test_a_receipt_with_a_nul_or_an_overlong_id_matches_nothing_and_is_no_storage_error(db):
    inbox = Inbox(db, LocalBus())
    receipts = [StatusUpdate("whatsapp", "wamid.\u0000x", "delivered"),
                StatusUpdate("whatsapp", "wamid.ok", "failed", error="bad\u0000"),
                StatusUpdate("whatsapp", "w" * 100_000, "read")]
    assert await inbox.record_statuses(receipts) == 0


@pytest.mark.parametrize("metadata", [{"client_id": "c" * 256}, {"client_id": ["not", "a", "string"]}],
                         ids=["long", "list"])
async def test_a_rest_clients_metadata_client_id_that_cannot_be_stored_is_a_400(db, metadata):
    """It became the history's client_id (255 characters): the worker failed on it for ever."""
    body = json.dumps({"sender": "s1", "message": "hi", "metadata": metadata}).encode()
    async with TestClient(TestServer(app_for(db))) as client:
        answer = await client.post("/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"})
        assert answer.status == 400
        assert "client_id" in (await answer.json())["error"]
    assert await stored(db) == []


async def test_a_conversation_key_longer_than_rasas_sender_id_column_is_refused(db):
    """Rasa's tracker store keeps the conversation key in a 255-character column."""
    inbox = Inbox(db, LocalBus())
    message = IncomingMessage(channel="rest", sender_id="s" * 255, text="hi", message_id="m1",
                              client_address="127.0.0.1")
    with pytest.raises(WebhookRejected) as refused:
        await inbox.accept([message], refuse_over_rate=True)
    assert refused.value.status == 400
