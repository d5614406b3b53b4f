"""The Models page's Measure over real HTTP (the web role of the app, on both backends): who
may, what cannot be measured and why, and one run at a time with trainings."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.console import accounts as console_accounts
from bot.messages import utcnow
from bot.settings import Settings
from bot.training.project import Project
from bot.training.registry import Registry
from tests.console.test_training_api import logged_in
from tests.support.model import first_model
from tests.training.conftest import project_env, tiny_copy  # noqa: F401  (a fixture)


@pytest.fixture
def models(tiny_copy: Project, tmp_path):
    """A fresh install's first model (no figures), and a version registered before the
    registry kept snapshots (it can never be measured)."""
    directory = tmp_path / "models"
    first = first_model(tiny_copy, directory, "tiny")
    old = tmp_path / "old-model.tar.gz"
    old.write_bytes(b"a model trained before snapshots were kept")
    Registry(directory).add(old, fingerprint="old")
    return directory, first.version


@pytest.fixture
async def client(db, database_url, tiny_copy: Project, models):
    settings = Settings.from_mapping({**project_env(tiny_copy, models[0]), "DATABASE_URL": database_url,
                                      "CONSOLE_FIRST_ADMIN": "false", "TRAINING_NICENESS": "0"})
    for name, role in (("tess", "trainer"), ("ann", "agent"), ("ada", "admin")):
        await console_accounts.add_user(db, name, role, f"password-of-{name}", utcnow())
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))) as client:
        yield client


def measure_path(version: str) -> str:
    return f"/console/api/training/models/{version}/measure"


async def test_only_trainers_and_admins_may_measure(client, models):
    _, version = models
    assert (await client.post(measure_path(version))).status == 401
    headers = await logged_in(client, "ann")
    refused = await client.post(measure_path(version), headers=headers)
    assert refused.status == 403 and (await refused.json())["error"] == "your role may not do this"
    client.session.cookie_jar.clear()
    headers = await logged_in(client, "ada")
    # An admin may; what stops this one is only that its data is missing.
    answer = await client.post(measure_path("old-model"), headers=headers)
    assert answer.status == 409 and "has no copy of the data it was trained from" in (await answer.json())["error"]


@pytest.mark.parametrize("version, error", [
    ("model-x", "no model version 'model-x'"),
    ("old-model", "has no copy of the data it was trained from"),
])
async def test_what_cannot_be_measured_gets_the_reason(client, version, error):
    headers = await logged_in(client, "tess")
    response = await client.post(measure_path(version), headers=headers)
    assert response.status == 409 and error in (await response.json())["error"]
    assert (await (await client.get("/console/api/training/models")).json())["run"] is None  # nothing started


async def test_one_run_at_a_time_measurements_and_trainings_alike(client, models):
    directory, version = models
    headers = await logged_in(client, "tess")
    started = await client.post(measure_path(version), headers=headers)
    assert started.status == 200, await started.text()
    run_id = (await started.json())["run_id"]
    for path, body in ((measure_path(version), None), ("/console/api/training/runs", {"activate": False})):
        busy = await client.post(path, json=body, headers=headers)
        assert busy.status == 409
        assert (await busy.json())["error"] == f"a measurement is running already (run {run_id}); wait for it to finish"
    page = await (await client.get("/console/api/training/models")).json()
    assert {k: page["run"][k] for k in ("id", "kind", "status", "version", "started_by")} == \
        {"id": run_id, "kind": "measure", "status": "running", "version": version, "started_by": "tess"}
    row = next(v for v in page["versions"] if v["version"] == version)
    assert row["gate"] is None and row["report"] is None  # figures come when the run ends (tests/training)
    assert len(Registry(directory).versions()) == 2  # measuring trains nothing new
