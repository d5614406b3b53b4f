"""An existing Rasa assistant hands over in Rasa's own ways, with no code of this service's:
an action returning ConversationPaused, a hand-over intent (HANDOFF_INTENTS), a hand-over
action that only says something (HANDOFF_ACTIONS), and this service's custom payload.

The assistant (tests/e2e/rasa_handover) is trained like any small test project, and its
actions are served by rasa_sdk's own action server, as `rasa run actions` serves them;
customers write over Rasa's REST channel to `bot run` (its model in a child process), and
the agent gives the conversation back with `bot handback`, a process with no model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.settings import PROJECT_DIR
from bot.storage.database import Database
from bot.storage.models import ConversationEvent
from bot.training import Project
from tests.conftest import BACKENDS, service_env
from tests.e2e.rasa_handover.actions import ActionEscalate, ActionHandoff, ActionOrderProblem
from tests.support.client import cli, cli_json, new_sender, say
from tests.support.action_server import action_server as running_action_server
from tests.support.model import cached_model
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ASSISTANT = Path(__file__).parent / "rasa_handover"
GREETING = "Hello from the hand-over bot!"


@pytest.fixture(scope="module")
def assistant_model() -> Path:
    return cached_model(Project.at(ASSISTANT), "rasa-handover")


@pytest.fixture(scope="module")
def action_server() -> Iterator[str]:
    with running_action_server("tests.e2e.rasa_handover.actions", PROJECT_DIR) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, assistant_model, action_server, tmp_path_factory) -> Iterator[ServiceProcess]:
    def started(url: str) -> Iterator[ServiceProcess]:
        process = ServiceProcess(service_env(url, assistant_model, ACTION_ENDPOINT_URL=action_server,
                                             BUSINESS_HOURS="always"))
        try:
            yield process.start()
        finally:
            process.stop()

    if request.param == "sqlite":
        yield from started(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('handover') / 'assistant.db'}")
    else:
        with fresh_postgres_database() as url:
            yield from started(url)


def queued(service: ServiceProcess, sender: str) -> dict | None:
    rows = [row for row in cli_json(service.env["DATABASE_URL"], "queue") if row["customer_id"] == sender]
    assert len(rows) <= 1
    return rows[0] if rows else None


def hand_back(service: ServiceProcess, conversation: int) -> None:
    result = cli(service.env["DATABASE_URL"], "handback", str(conversation))
    assert result.returncode == 0, result.stderr


async def event_kinds(service: ServiceProcess, conversation: int) -> list[str]:
    db = Database(service.env["DATABASE_URL"])
    try:
        async with db.session() as session:
            return list((await session.execute(
                select(ConversationEvent.kind).where(ConversationEvent.conversation_id == conversation)
                .order_by(ConversationEvent.id))).scalars())
    finally:
        await db.close()


def texts(replies: list[dict]) -> list[str]:
    return [r.get("text") for r in replies]


async def test_an_action_pausing_the_conversation_hands_over_and_the_bot_answers_again_after_the_hand_back(service):
    sender = new_sender()
    assert texts(await say(service.url, sender, "hello")) == [GREETING]

    paused = await say(service.url, sender, "I want to make a complaint")
    assert texts(paused)[0] == "I'm sorry to hear that. A colleague will take it from here."
    entry = queued(service, sender)
    assert entry is not None and entry["status"] == "queued" and entry["reason"] == "assistant_handoff"

    # With a person now: the bot stays silent.
    assert await say(service.url, sender, "hello?") == []
    hand_back(service, entry["conversation"])
    assert queued(service, sender) is None

    # Rasa ignores a paused tracker's messages: the bot answers only because it was resumed.
    assert texts(await say(service.url, sender, "hello")) == [GREETING]
    assert texts(await say(service.url, sender, "hi")) == [GREETING]
    kinds = await event_kinds(service, entry["conversation"])
    assert kinds.count("resumed") == 1
    assert kinds.index("handoff") < kinds.index("handback") < kinds.index("resumed")


@pytest.mark.parametrize("text, first_reply, reason", [
    # HANDOFF_INTENTS: the intent alone; the action is a plain utterance.
    ("I want to talk to a human", "Let me find a colleague for you.", "customer_request"),
    # HANDOFF_ACTIONS: an action of the action server that only says something.
    ("where is my refund", "A colleague will look at your refund.", "assistant_handoff"),
    # The custom payload, with its own reason (and never shown to the customer).
    ("my order arrived broken", "I'm sorry about your order; I'm passing it to our team.", "complaint"),
])
async def test_a_hand_over_intent_action_or_payload_queues_the_conversation(service, text, first_reply, reason):
    sender = new_sender()
    replies = await say(service.url, sender, text)
    assert texts(replies)[0] == first_reply
    assert not any("handoff" in (r.get("custom") or {}) for r in replies)
    entry = queued(service, sender)
    assert entry is not None and entry["reason"] == reason
    hand_back(service, entry["conversation"])
    assert texts(await say(service.url, sender, "hello")) == [GREETING]
    # Nothing paused Rasa's tracker here, so nothing was resumed.
    assert "resumed" not in await event_kinds(service, entry["conversation"])


async def test_the_engine_resumes_a_tracker_an_action_paused(assistant_model):
    """The engine on its own loop thread, with the same actions run in-process."""
    from bot.engine import DialogueEngine

    engine = DialogueEngine(assistant_model, {}, [ActionEscalate(), ActionHandoff(), ActionOrderProblem()])
    await engine.start()
    try:
        async def turn(text: str, number: int):
            return await engine.handle("alice", text, channel="rest", message_id=f"m{number}")

        paused = await turn("I want to make a complaint", 1)
        resumed = await turn("hello", 2)
        after = await turn("hello", 3)
    finally:
        await engine.stop()
    assert (paused.paused, paused.resumed, paused.actions) == (True, False, ["action_escalate"])
    assert (resumed.paused, resumed.resumed, [r.text for r in resumed.replies]) == (False, True, [GREETING])
    assert (after.resumed, [r.text for r in after.replies]) == (False, [GREETING])
