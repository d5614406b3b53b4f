"""Every platform is one module, one fixtures folder of real payloads, one test file."""

from pathlib import Path

import pytest

from bot.bus import LocalBus
from bot.http import HttpClient
from bot.settings import Settings
from channels.registry import build_platform_channels, platform_modules

TESTS = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", platform_modules() or ["(none yet)"])
def test_each_platform_has_fixtures_and_a_test_file(module):
    if module == "(none yet)":
        pytest.skip("no platform module yet")
    fixtures = TESTS / "fixtures" / module
    assert fixtures.is_dir() and any(fixtures.glob("*.json")), f"tests/fixtures/{module}/ holds no payloads"
    assert (TESTS / "channels" / f"test_{module}.py").is_file()


def test_unconfigured_platforms_say_which_settings_they_need():
    channels = build_platform_channels(Settings.from_mapping({}), HttpClient(1), LocalBus())
    for name, channel in channels.items():
        assert channel.missing_settings, f"{name} claims to be configured without credentials"
        assert all(s.isupper() for s in channel.missing_settings)
