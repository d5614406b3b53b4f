"""A Rasa project with its own action server moves in unchanged: the service calls a real
`rasa run actions` (rasa-sdk's server on loopback), or finds the same package's actions
itself (ACTIONS_PACKAGE), and a customer gets the same answers either way, on both
backends. The project (tests/fixtures/bistro) has a form, its validation action and a
custom action that reads the slots and the message's metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.run import BareRasa
from bot.phrases import shipped
from bot.training import Project
from tests.support.action_server import action_server as running_action_server
from tests.support.client import cli_json, new_sender
from tests.support.model import cached_model
from tests.support.process import free_port

pytestmark = pytest.mark.slow

BISTRO = Path(__file__).parent.parent / "fixtures" / "bistro"
PACKAGE = "bistro_actions"


@pytest.fixture(scope="module")
def bistro_model() -> Path:
    return cached_model(Project.at(BISTRO), "bistro")


@pytest.fixture(scope="module")
def action_server() -> Iterator[str]:
    with running_action_server(PACKAGE, BISTRO, python_path=BISTRO) as url:
        yield url


async def say(service_url: str, sender: str, text: str, metadata: dict | None = None) -> list[str]:
    body = {"sender": sender, "message": text, **({"metadata": metadata} if metadata else {})}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service_url}/webhooks/rest/webhook", json=body) as response:
            assert response.status == 200, await response.text()
            return [reply.get("text", "") for reply in await response.json()]


async def booking(service_url: str) -> list[list[str]]:
    """A booking with one answer the validation action refuses."""
    sender = new_sender("diner")
    return [
        await say(service_url, sender, "I'd like to book a table"),
        await say(service_url, sender, "twenty"),
        await say(service_url, sender, "4"),
        await say(service_url, sender, "Ada Lovelace", metadata={"branch": "the Soho branch"}),
    ]


EXPECTED = [
    ["For how many people?"],
    ["We seat 1 to 12 people at a table: how many are you?", "For how many people?"],
    ["Under which name?"],
    ["Booked: a table for 4 under Ada Lovelace at the Soho branch."],
]


async def test_a_form_and_a_custom_action_run_on_an_external_action_server(start_service, bistro_model,
                                                                            action_server):
    service = start_service(MODEL_PATH=str(bistro_model), ACTION_ENDPOINT_URL=action_server)
    assert await booking(service.url) == EXPECTED


async def test_bare_rasa_run_on_the_same_model_and_server_answers_the_same(bistro_model, action_server):
    """What the two tests beside it expect is what `rasa run` answers."""
    with BareRasa(bistro_model, action_endpoint=action_server) as rasa_run:
        assert await booking(rasa_run.base_url) == EXPECTED


async def test_the_same_package_run_inside_the_service_gives_the_same_answers(start_service, bistro_model):
    service = start_service(MODEL_PATH=str(bistro_model), ACTIONS_PACKAGE=PACKAGE, PYTHONPATH=str(BISTRO))
    assert await booking(service.url) == EXPECTED



async def test_an_action_server_out_of_reach_hands_the_customer_to_a_person(start_service, bistro_model):
    """Rasa alone would log the failure and go on without the action: the form asked
    nothing and the customer got silence."""
    nobody = f"http://127.0.0.1:{free_port()}/webhook"
    service = start_service(MODEL_PATH=str(bistro_model), ACTION_ENDPOINT_URL=nobody)
    sender = new_sender("diner")
    first = await say(service.url, sender, "I'd like to book a table")
    # Told, and no question of the form slips in; the wait or the team's hours follow, as
    # for every hand-over.
    assert first[0] == shipped().say("actions_unavailable", "en")
    assert len(first) == 2 and "how many" not in first[1].lower()
    queue = {row["customer"]: row for row in cli_json(service.env["DATABASE_URL"], "queue")}
    assert queue[sender]["reason"] == "actions_unavailable"
    # A person has it now: the bot says nothing more.
    assert await say(service.url, sender, "hello?") == []
