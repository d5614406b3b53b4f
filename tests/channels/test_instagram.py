"""Instagram (DMs and comments): parsing every fixture, the signature and the handshake,
sends against a fake Graph API, and the running service end to end. The Messenger-shaped
parts shared with Facebook are tested in depth in test_facebook.py; this file checks what
Instagram does differently and that the shared parts are wired in."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.messages import Button, IncomingMessage
from bot.public import PUBLIC_ROUTINE
from bot.settings import Settings
from channels import instagram
from channels.base import WebhookRejected, WebhookRequest
from channels.meta import signature
from tests.support.payloads import well_typed, with_value
from tests.channels.test_facebook import (  # noqa: F401  (graph_api and http are fixtures)
    FIXTURES, PAGE_TOKEN, SETTINGS, VERIFY_TOKEN, channel_for, check_fixture, deliver, delivery,
    fixture_names, graph_api, http, new_id, opening_hours_in, post_request, sent_to, signed, to, wait_for_sends,
)

# -- 1. parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", fixture_names("instagram"))
def test_every_fixture_parses_to_its_declared_result(name):
    check_fixture(instagram.PLATFORM, name)


def test_there_are_fixtures_for_every_kind_of_event():
    assert {"message_text", "message_quick_reply", "postback_icebreaker", "message_image", "story_mention",
            "story_reply", "message_echo", "message_seen", "reaction", "batch", "comment", "own_comment",
            "unknown_field"} <= set(fixture_names("instagram"))


def test_every_event_of_every_entry_of_a_batch_is_read():
    body = (FIXTURES / "instagram" / "batch.json").read_bytes()
    parsed = channel_for(instagram.PLATFORM).parse(post_request(body, signed(body)))
    assert len(json.loads(body)["entry"]) == 3 and len([p for p in parsed if isinstance(p, IncomingMessage)]) == 3


def test_a_page_webhook_sent_to_the_instagram_url_is_ignored():
    body = (FIXTURES / "facebook" / "message_text.json").read_bytes()
    assert channel_for(instagram.PLATFORM).parse(post_request(body, signed(body))) == []


# -- 2. signature and handshake --------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {}, {"X-Hub-Signature-256": signature("another-secret", (FIXTURES / "instagram" / "comment.json").read_bytes())},
])
def test_a_missing_or_forged_signature_is_refused_with_403(headers):
    body = (FIXTURES / "instagram" / "comment.json").read_bytes()
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(instagram.PLATFORM).parse(post_request(body, headers))
    assert rejected.value.status == 403


def test_the_handshake_echoes_the_challenge_only_for_the_right_token():
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "2718281828"}
    answer = channel_for(instagram.PLATFORM).handshake(WebhookRequest("GET", {}, query, b""))
    assert (answer.status, answer.body) == (200, "2718281828")
    with pytest.raises(WebhookRejected) as rejected:
        channel_for(instagram.PLATFORM).handshake(WebhookRequest("GET", {}, {**query, "hub.verify_token": "x"}, b""))
    assert rejected.value.status == 403


def test_without_credentials_the_channel_names_the_missing_settings():
    channel = instagram.build(Settings.from_mapping({}), HttpClient(1), LocalBus())
    assert channel.name == "instagram"
    assert channel.missing_settings == ("META_APP_SECRET", "META_VERIFY_TOKEN", "META_PAGE_ACCESS_TOKEN",
                                        "INSTAGRAM_ACCOUNT_ID")
    assert channel_for(instagram.PLATFORM, META_PAGE_ID="").missing_settings == ()


# -- 3. sending ----------------------------------------------------------------------------------

async def test_a_dm_goes_to_me_messages_with_quick_replies(graph_api, http):
    igsid = new_id()
    result = await channel_for(instagram.PLATFORM, graph_api.url, http).send(delivery(
        "instagram", recipient_id=igsid, text="How can I help?", buttons=(Button("Track my order", "/track_order"),)))
    (request,) = sent_to(graph_api, {"id": igsid})
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert request.json == {"recipient": {"id": igsid}, "messaging_type": "RESPONSE", "message": {
        "text": "How can I help?",
        "quick_replies": [{"content_type": "text", "title": "Track my order", "payload": "/track_order"}]}}
    assert result.ok and result.platform_message_id == graph_api.answers.id_for(request)


async def test_windows_apply_as_on_messenger(graph_api, http):
    igsid = new_id()
    channel = channel_for(instagram.PLATFORM, graph_api.url, http)
    refused = await channel.send(delivery("instagram", last_seen=timedelta(hours=30), recipient_id=igsid, text="Hi"))
    tagged = await channel.send(delivery("instagram", last_seen=timedelta(hours=30), recipient_id=igsid, text="Hi",
                                         author="agent"))
    assert refused.permanent and "24-hour" in refused.error and tagged.ok
    (request,) = sent_to(graph_api, {"id": igsid})
    assert request.json["messaging_type"] == "MESSAGE_TAG" and request.json["tag"] == "HUMAN_AGENT"


async def test_a_public_reply_goes_to_the_comments_replies_edge(graph_api, http):
    comment = new_id()
    result = await channel_for(instagram.PLATFORM, graph_api.url, http).send(delivery(
        "instagram", recipient_id=new_id(), text=PUBLIC_ROUTINE, is_public=True, thread_id=comment))
    (request,) = graph_api.received(f"/{comment}/replies")
    assert request.path == f"/v19.0/{comment}/replies" and request.json == {"message": PUBLIC_ROUTINE}
    assert result.ok and result.platform_message_id == graph_api.answers.id_for(request)


async def test_a_public_reply_longer_than_an_instagram_comment_is_refused(graph_api, http):
    comment = new_id()
    result = await channel_for(instagram.PLATFORM, graph_api.url, http).send(delivery(
        "instagram", recipient_id=new_id(), text="word " * 500, is_public=True, thread_id=comment))
    assert result.permanent and "2200" in result.error and graph_api.received(f"/{comment}/") == []


async def test_the_private_reply_goes_to_the_comment(graph_api, http):
    comment = new_id()
    result = await channel_for(instagram.PLATFORM, graph_api.url, http).send(delivery(
        "instagram", recipient_id=new_id(), text="Here are the details.", custom={"private_reply": True},
        thread_id=comment))
    (request,) = sent_to(graph_api, {"comment_id": comment})
    assert request.json == {"recipient": {"comment_id": comment}, "message": {"text": "Here are the details."}}
    assert result.ok


async def test_hiding_a_comment_sets_hide(graph_api, http):
    comment = new_id()
    result = await channel_for(instagram.PLATFORM, graph_api.url, http).send(delivery(
        "instagram", recipient_id=new_id(), text="(comment hidden for moderation)", custom={"moderation": "hide"},
        is_public=True, thread_id=comment, author="system"))
    (request,) = graph_api.received(f"/v19.0/{comment}")
    assert request.json == {"hide": True} and result.ok


# -- 4. the running service ------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(start_service, graph_api):
    return start_service(**SETTINGS, META_GRAPH_URL=f"{graph_api.url}/v19.0", OUTBOX_BACKOFF_BASE="0.05",
                         OUTBOX_BACKOFF_MAX="0.5", POLL_INTERVAL="0.1")


def dm_body(sender: str, mid: str, text: str) -> bytes:
    fixture = json.loads((FIXTURES / "instagram" / "message_text.json").read_text())
    event = fixture["entry"][0]["messaging"][0]
    event["sender"]["id"], event["message"] = sender, {"mid": mid, "text": text}
    return json.dumps(fixture).encode()


def comment_body(sender: str, comment: str, text: str) -> bytes:
    fixture = json.loads((FIXTURES / "instagram" / "comment.json").read_text())
    fixture["entry"][0]["changes"][0]["value"].update(id=comment, text=text, **{"from": {
        "id": sender, "username": "customer"}})
    return json.dumps(fixture).encode()


@pytest.mark.slow
async def test_an_instagram_dm_gets_the_rasa_answer_once(service, graph_api):
    igsid, mid = new_id(), f"aWdf{new_id()}"
    body = dm_body(igsid, mid, "what are your opening hours?")
    assert (await deliver(service, body, channel="instagram"))["accepted"] == 1
    assert (await deliver(service, body, channel="instagram"))["duplicates"] == 1
    (reply,) = await wait_for_sends(graph_api, to({"id": igsid}))
    assert opening_hours_in(reply.json["message"]["text"])
    health = await asyncio.to_thread(service.health)
    assert health["channels"]["instagram"] == "configured"


@pytest.mark.slow
async def test_a_routine_comment_gets_a_public_reply_and_the_answer_privately(service, graph_api):
    user, comment = new_id(), new_id()
    assert (await deliver(service, comment_body(user, comment, "what are your opening hours?"),
                          channel="instagram"))["accepted"] == 1
    (public,) = await wait_for_sends(graph_api, lambda r: r.path == f"/v19.0/{comment}/replies")
    (private,) = await wait_for_sends(graph_api, to({"comment_id": comment}))
    assert public.json == {"message": PUBLIC_ROUTINE}
    assert opening_hours_in(private.json["message"]["text"])


@pytest.mark.slow
async def test_the_accounts_own_comment_and_echo_are_never_answered(service, graph_api):
    before = len(graph_api.received())
    for name in ("own_comment", "message_echo"):
        body = (FIXTURES / "instagram" / f"{name}.json").read_bytes()
        answer = await deliver(service, body, channel="instagram")
        assert answer["http_status"] == 200 and answer["accepted"] == 0
    await asyncio.sleep(1)
    assert len(graph_api.received()) == before


# -- fields of the wrong type (found by `make fuzz`): read as absent, never a 500 ---------------

@pytest.mark.parametrize("name, path, value", [
    ("comment", ("entry",), -1),
    ("comment", ("entry", 0, "changes", 0, "value", "from", "username"), ["tomas"]),
])
def test_a_field_of_the_wrong_type_is_read_as_absent(name, path, value):
    body = with_value("instagram", name, path, value)
    assert well_typed(channel_for(instagram.PLATFORM).parse(post_request(body, signed(body))))
