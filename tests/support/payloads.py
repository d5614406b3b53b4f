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
