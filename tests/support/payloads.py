"""The fixture harness of a platform's tests: `<name>.json` beside `<name>.expected.json`.

The expected file lists what parsing must give, each item with only the fields that differ
from their defaults; [] means "acknowledge and ignore".
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bot.messages import IncomingMessage, StatusUpdate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_names(platform: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / platform).glob("*.json") if not p.name.endswith(".expected.json"))


def payload(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / f"{name}.json").read_bytes()


def normalised(item: IncomingMessage | StatusUpdate) -> dict[str, Any]:
    kind = "message" if isinstance(item, IncomingMessage) else "status"
    return json.loads(json.dumps({"type": kind, **dataclasses.asdict(item)}))


def expected(platform: str, name: str) -> list[dict[str, Any]]:
    """The declared result, with every field the declaration leaves out at its default."""
    path = FIXTURES / platform / f"{name}.expected.json"
    assert path.exists(), f"tests/fixtures/{platform}/{name}.json has no {name}.expected.json"
    return [_with_defaults(d) for d in json.loads(path.read_text())]


def _with_defaults(declared: dict[str, Any]) -> dict[str, Any]:
    kind = IncomingMessage if declared["type"] == "message" else StatusUpdate
    defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                for f in dataclasses.fields(kind)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    unknown = set(declared) - {f.name for f in dataclasses.fields(kind)} - {"type"}
    assert not unknown, f"the expectation names fields {kind.__name__} does not have: {sorted(unknown)}"
    return json.loads(json.dumps({**defaults, **declared}))


def with_value(platform: str, name: str, path: tuple[str | int, ...], value: Any) -> bytes:
    """The fixture's body with the field at `path` set to `value` (a path of () replaces it all)."""
    data = json.loads(payload(platform, name))
    if not path:
        return json.dumps(value).encode()
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return json.dumps(data).encode()


def well_typed(items: list[IncomingMessage | StatusUpdate]) -> bool:
    """Every field of every parsed item has its declared type (what the inbox and worker rely on)."""
    for item in items:
        if isinstance(item, IncomingMessage):
            if not all(isinstance(v, str) for v in (item.channel, item.sender_id, item.text, item.message_id)):
                return False
            if not all(v is None or isinstance(v, str) for v in (item.sender_name, item.payload, item.thread_id)):
                return False
            if not all(isinstance(a.kind, str) and (a.url is None or isinstance(a.url, str)) for a in item.attachments):
                return False
        elif not all(isinstance(v, str) for v in (item.platform_message_id, item.status)):
            return False
    return True
