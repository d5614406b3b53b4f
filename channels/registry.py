"""Every platform module in channels/ that has a `build(settings, http, bus)` function.

Adding a platform is adding its module; nothing here changes. The registry test checks
that each one also has its fixtures folder and its test file.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from bot.bus import Bus
from bot.http import HttpClient
from bot.settings import Settings
from channels.base import Channel

NOT_PLATFORMS = {"base", "registry", "rest", "webchat"}


def platform_modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])]
    return sorted(n for n in names if n not in NOT_PLATFORMS and hasattr(importlib.import_module(f"channels.{n}"), "build"))


def build_platform_channels(settings: Settings, http: HttpClient, bus: Bus) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for module_name in platform_modules():
        channel = importlib.import_module(f"channels.{module_name}").build(settings, http, bus)
        channels[channel.name] = channel
    return channels


def missing_settings(channel: Channel) -> tuple[str, ...]:
    """The settings a channel still needs; empty when it is configured."""
    return tuple(getattr(channel, "missing_settings", ()))
