"""A Rasa project moves in unchanged: the starter project `rasa init` writes, trained from
its own files (none edited), answers its own test stories under this service exactly as
bare `rasa run` answers them on the same model, on both backends."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import rasa
from ruamel.yaml import YAML

from bench.run import BareRasa
from bot.training import Project
from tests.support.client import new_sender, say
from tests.support.model import cached_model
from tests.support.process import ServiceProcess

pytestmark = pytest.mark.slow

STARTER = Path(rasa.__file__).parent / "cli" / "initial_project"


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    """What `rasa init` leaves in a new folder: the same files, byte for byte."""
    project = tmp_path_factory.mktemp("starter") / "project"
    shutil.copytree(STARTER, project)
    return project


@pytest.fixture(scope="module")
def starter_model(starter) -> Path:
    return cached_model(Project.at(starter), "rasa-init")


@pytest.fixture(scope="module")
def bare_rasa(starter_model) -> Iterator[BareRasa]:
    with BareRasa(starter_model) as server:
        yield server


@pytest.fixture(scope="module")
def moved_in(start_service, starter, starter_model) -> ServiceProcess:
    """This service on the starter's model, its trainer pointed at the starter's files."""
    return start_service(MODEL_PATH=str(starter_model), DATA_DIR=str(starter / "data"),
                         DOMAIN_FILE=str(starter / "domain.yml"), CONFIG_FILE=str(starter / "config.yml"))


def test_stories() -> list[tuple[str, list[str], list[str]]]:
    """The starter's own test stories: (name, what the user says, what the bot does)."""
    stories = YAML(typ="safe").load((STARTER / "tests" / "test_stories.yml").read_text())["stories"]
    return [(story["story"], [step["user"].strip() for step in story["steps"] if "user" in step],
             [step["action"] for step in story["steps"] if "action" in step]) for story in stories]


test_stories.__test__ = False  # a helper, not a test


def responses(domain: Path) -> dict[str, list[dict]]:
    return YAML(typ="safe").load(domain.read_text())["responses"]


async def bare_say(url: str, sender: str, text: str) -> list[dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"sender": sender, "message": text}) as response:
            assert response.status == 200, await response.text()
            return await response.json()


@pytest.mark.parametrize("name, said, done", test_stories(), ids=[s[0] for s in test_stories()])
async def test_the_starters_stories_are_answered_as_under_rasa_run(name, said, done, starter, bare_rasa, moved_in):
    sender = new_sender("starter")
    ours, theirs = [], []
    for text in said:
        ours += await say(moved_in.url, sender, text)
        theirs += await bare_say(bare_rasa.url, sender, text)
    assert ours == theirs
    # And they are the story's answers, in its order.
    domain = responses(starter / "domain.yml")
    expected = [dict(domain[action][0]) for action in done]
    answered = [{key: value for key, value in reply.items() if key != "recipient_id"} for reply in ours]
    merged: list[dict] = []
    for reply in answered:
        # Rasa sends a response's image as a message of its own after the text.
        if "image" in reply and merged and "image" not in merged[-1] and "text" not in reply:
            merged[-1] = {**merged[-1], **reply}
        else:
            merged.append(reply)
    assert merged == expected
