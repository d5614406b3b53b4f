"""Who may change what, through the real HTTP API on both backends: canned responses are
kept by supervisors and admins (agents use them), and only an admin may activate a model
the gate refused, saying why; the reason stays on the version and shows on the Models page."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.training.registry import Registry
from tests.console.support import logged_in

ROLES = {"ann": "agent", "sue": "supervisor", "tess": "trainer", "ada": "admin"}


@pytest.fixture
def models(tmp_path):
    """A registry with an active version and one the gate refused."""
    directory = tmp_path / "models"
    directory.mkdir()
    registry = Registry(directory)
    for version, passed in (("model-good", True), ("model-worse", False)):
        (tmp_path / f"{version}.tar.gz").write_bytes(b"a model")
        registry.add(tmp_path / f"{version}.tar.gz", version.ljust(8, "0"), version=version)
        registry.record_gate(version, {"decision": {"passed": passed}}, passed)
    registry.activate("model-good")
    return registry


@pytest.fixture
async def client(db, database_url, models):
    settings = Settings.from_mapping({"DATABASE_URL": database_url, "CONSOLE_FIRST_ADMIN": "false",
                                      "MODELS_DIR": str(models.models_dir)})
    for name, role in ROLES.items():
        await console_accounts.add_user(db, name, role, f"password-of-{name}", utcnow())
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


async def as_(client: TestClient, name: str) -> dict[str, str]:
    client.session.cookie_jar.clear()
    return await logged_in(client, name)


async def test_agents_use_canned_responses_supervisors_and_admins_keep_them(client):
    sue = await as_(client, "sue")
    made = await client.post("/console/api/canned", json={"shortcut": "refund", "text": "3-5 days."}, headers=sue)
    assert made.status == 200
    canned_id = (await made.json())["id"]

    ann = await as_(client, "ann")
    reason = "only supervisors and admins may change canned responses"
    for response in (
        await client.post("/console/api/canned", json={"shortcut": "refund", "text": "Never."}, headers=ann),
        await client.post("/console/api/canned", json={"shortcut": "new", "text": "Mine."}, headers=ann),
        await client.delete(f"/console/api/canned/{canned_id}", headers=ann),
    ):
        assert response.status == 403 and (await response.json()) == {"error": reason}
    listed = await client.get("/console/api/canned")
    assert listed.status == 200
    assert (await listed.json()) == {"canned": [{"id": canned_id, "shortcut": "refund", "text": "3-5 days."}],
                                     "may_edit": False}

    ada = await as_(client, "ada")
    assert (await (await client.get("/console/api/canned")).json())["may_edit"] is True
    changed = await client.post("/console/api/canned", json={"shortcut": "refund", "text": "2 days."}, headers=ada)
    assert changed.status == 200
    assert (await client.delete(f"/console/api/canned/{canned_id}", headers=ada)).status == 200
    assert (await (await client.get("/console/api/canned")).json())["canned"] == []


async def test_only_an_admin_overrules_the_gate_and_says_why(client, models):
    path = "/console/api/training/models/model-worse/activate"
    tess = await as_(client, "tess")
    refused = await client.post(path, json={}, headers=tess)
    assert refused.status == 409 and "refused by the gate" in (await refused.json())["error"]
    forced = await client.post(path, json={"force": True, "reason": "I know better"}, headers=tess)
    assert forced.status == 403
    assert (await forced.json()) == {"error": "only an admin may activate a version the gate refused"}
    assert models.active().version == "model-good"

    ada = await as_(client, "ada")
    for body in ({"force": True}, {"force": True, "reason": "   "}):
        unexplained = await client.post(path, json=body, headers=ada)
        assert unexplained.status == 400 and (await unexplained.json()) == {"error": "'reason' must be non-empty text"}
    assert models.active().version == "model-good"
    done = await client.post(path, json={"force": True, "reason": "the gate's test set lacks the new intents"},
                             headers=ada)
    assert done.status == 200 and (await done.json()) == {"active": "model-worse"}
    entry = models.get("model-worse")
    assert entry.status == "active"
    assert entry.forced["by"] == "ada" and entry.forced["reason"] == "the gate's test set lacks the new intents"
    shown = await (await client.get("/console/api/training/models")).json()
    assert next(v for v in shown["versions"] if v["version"] == "model-worse")["forced"]["by"] == "ada"

    # What the gate passed, a trainer still activates (rolling back included).
    tess = await as_(client, "tess")
    assert (await client.post("/console/api/training/models/model-good/activate", json={}, headers=tess)).status == 200
