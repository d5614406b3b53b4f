"""bot/action_package.py: the actions the service runs itself are found as rasa-sdk's
action server finds them, and those that need the service's resources are handed them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actions.orders import ActionCheckOrderStatus, ValidateOrderStatusForm, demo_lookup
from bot.action_package import ActionResources, ActionsPackageError, action_classes, load_actions
from bot.settings import PROJECT_DIR, Settings

BISTRO = PROJECT_DIR / "tests" / "fixtures" / "bistro"


async def a_lookup(number: str):
    return None


def test_the_demo_package_gives_every_action_and_the_order_actions_the_services_lookup():
    actions = {action.name(): action for action in load_actions("actions", ActionResources(order_lookup=a_lookup))}
    assert set(actions) == {"action_handoff", "action_clarify", "action_refund_status", "action_out_of_scope",
                            "action_check_order_status", "validate_order_status_form"}
    assert isinstance(actions["action_check_order_status"], ActionCheckOrderStatus)
    assert actions["action_check_order_status"].lookup is a_lookup
    assert actions["validate_order_status_form"].lookup is a_lookup


def test_rasa_sdk_finds_the_same_actions_in_the_demo_package_and_makes_them_without_the_service():
    """`rasa run actions --actions actions` keeps working: its executor, in a process of its own."""
    script = ("import json; from rasa_sdk.executor import ActionExecutor; e = ActionExecutor(); "
              "e.register_package('actions'); print(json.dumps(sorted(e.actions)))")
    found = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True,
                           timeout=120, check=True)
    ours = sorted(action.name() for action in load_actions("actions", ActionResources(order_lookup=a_lookup)))
    assert json.loads(found.stdout.strip().splitlines()[-1]) == ours
    assert ActionCheckOrderStatus().lookup is demo_lookup and ValidateOrderStatusForm().lookup is demo_lookup


def test_a_package_of_plain_actions_works_unchanged(monkeypatch):
    monkeypatch.syspath_prepend(str(BISTRO))
    actions = load_actions("bistro_actions", ActionResources(order_lookup=a_lookup))
    assert sorted(action.name() for action in actions) == ["action_confirm_booking", "validate_booking_form"]


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    for file, text in files.items():
        (root / name / file).write_text(text)


ACTION = """
from rasa_sdk import Action

class {cls}(Action):
    def __init__(self{params}):
        self.given = dict({given})

    def name(self):
        return "{name}"

    def run(self, dispatcher, tracker, domain):
        return []
"""


def test_only_the_packages_own_actions_and_those_imported_into_it_are_taken(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _package(tmp_path, "shared_lib_x", {"base.py": ACTION.format(cls="Shared", params="", given="", name="shared")})
    _package(tmp_path, "other_pkg_x", {"a.py": ACTION.format(cls="Other", params="", given="", name="other")})
    _package(tmp_path, "brand_pkg_x", {
        "sub.py": "from shared_lib_x.base import Shared\n" + ACTION.format(cls="Own", params="", given="", name="own"),
    })
    __import__("other_pkg_x.a")  # imported in the process, but not part of the package
    assert sorted(cls.__name__ for cls in action_classes("brand_pkg_x")) == ["Own", "Shared"]


def test_an_action_is_given_the_resources_it_names_and_keeps_its_other_defaults(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _package(tmp_path, "given_pkg_x", {"a.py": ACTION.format(
        cls="Wants", params=", order_lookup, region='eu'", given="order_lookup=order_lookup, region=region",
        name="wants")})
    [action] = load_actions("given_pkg_x", ActionResources(order_lookup=a_lookup))
    assert action.given == {"order_lookup": a_lookup, "region": "eu"}


def test_an_action_asking_for_something_the_service_does_not_offer_is_named(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _package(tmp_path, "needy_pkg_x", {"a.py": ACTION.format(
        cls="Needy", params=", crm_client", given="crm_client=crm_client", name="needy")})
    with pytest.raises(ActionsPackageError, match=r"needy_pkg_x\.a\.Needy needs 'crm_client'.*offers: order_lookup"):
        load_actions("needy_pkg_x", ActionResources(order_lookup=a_lookup))


def test_a_module_that_fails_to_import_is_named(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _package(tmp_path, "broken_pkg_x", {"fine.py": "", "bad.py": "import no_such_module_anywhere\n"})
    with pytest.raises(ActionsPackageError, match=r"'broken_pkg_x': importing broken_pkg_x\.bad failed: "
                                                  r"ModuleNotFoundError"):
        load_actions("broken_pkg_x", ActionResources(order_lookup=a_lookup))


def test_a_package_that_is_not_there_stops_the_service_at_start(tmp_path):
    from bot.app import Roles, create_app

    settings = Settings.from_mapping({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                                      "ACTIONS_PACKAGE": "acitons"})
    with pytest.raises(ActionsPackageError, match="ACTIONS_PACKAGE 'acitons' cannot be imported"):
        create_app(settings, Roles(web=False, worker=True))
    # An external action server runs the actions: the package is not looked for.
    create_app(Settings.from_mapping({**{"DATABASE_URL": settings.database_url, "ACTIONS_PACKAGE": "acitons"},
                                      "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook"}),
               Roles(web=False, worker=True))


@pytest.mark.slow
def test_the_command_stops_with_a_message_naming_the_package(tmp_path, model):
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", "MODEL_PATH": str(model),
           "ACTIONS_PACKAGE": "acitons", "CONSOLE_FIRST_ADMIN": "false", "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run([sys.executable, "-m", "bot", "worker"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "error: ACTIONS_PACKAGE 'acitons' cannot be imported" in result.stderr
