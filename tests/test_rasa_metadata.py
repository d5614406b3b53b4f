"""Metadata reaches Rasa as Rasa's own channels pass it, with the service's facts beside it."""

from __future__ import annotations

import pytest
from rasa_sdk import Action

from bot.engine import DialogueEngine
from bot.messages import SERVICE_METADATA_KEY, IncomingMessage


def message(channel: str, **kwargs) -> IncomingMessage:
    return IncomingMessage(channel=channel, sender_id="alice", text="hi", message_id="1", **kwargs)


def test_rest_metadata_is_passed_as_sent():
    metadata = message("rest", metadata={"locale": "en-GB", "cart": {"items": 2}}).rasa_metadata()
    assert metadata == {"locale": "en-GB", "cart": {"items": 2},
                        SERVICE_METADATA_KEY: {"channel": "rest", "is_public": False}}


def test_socketio_passes_custom_data_as_rasa_does():
    sent = message("socketio", metadata={"customData": {"language": "es"}, "metadata": {"x": 1}})
    assert sent.rasa_metadata() == {"language": "es", SERVICE_METADATA_KEY: {"channel": "socketio",
                                                                           "is_public": False}}
    assert message("socketio").rasa_metadata() == {SERVICE_METADATA_KEY: {"channel": "socketio",
                                                                          "is_public": False}}


def test_a_platform_message_gives_its_facts_under_the_service_key():
    comment = message("facebook", is_public=True, thread_id="c1", metadata={"post_id": "p9"})
    assert comment.rasa_metadata() == {SERVICE_METADATA_KEY: {
        "channel": "facebook", "is_public": True, "thread_id": "c1", "platform": {"post_id": "p9"}}}


def test_the_service_key_wins_over_a_clients_own():
    metadata = message("rest", metadata={SERVICE_METADATA_KEY: "forged"}).rasa_metadata()
    assert metadata[SERVICE_METADATA_KEY] == {"channel": "rest", "is_public": False}


class RecordingRefundAction(Action):
    """Stands in for the demo's refund action and keeps what an action sees."""

    seen: list[dict] = []

    def name(self) -> str:
        return "action_refund_status"

    async def run(self, dispatcher, tracker, domain):
        self.seen.append(tracker.latest_message.get("metadata"))
        dispatcher.utter_message(text="recorded")
        return []


@pytest.mark.slow
async def test_an_action_reads_the_metadata_from_its_tracker(model):
    engine = DialogueEngine(model, {}, [RecordingRefundAction()])
    sent = message("rest", metadata={"locale": "en-GB"})
    await engine.start()
    try:
        turn = await engine.handle(sent.conversation_key, "when will i get my money back", channel="rest",
                                   message_id="m1", metadata=sent.rasa_metadata())
    finally:
        await engine.stop()
    assert [r.text for r in turn.replies] == ["recorded"]
    assert RecordingRefundAction.seen == [sent.rasa_metadata()]
