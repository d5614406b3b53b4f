"""Talking to the running service the way customers' platforms and operators do."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from functools import lru_cache

import aiohttp
from ruamel.yaml import YAML

from bot.settings import PROJECT_DIR


def new_sender(prefix: str = "customer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def say(service_url: str, sender: str, text: str, message_id: str | None = None) -> list[dict]:
    body = {"sender": sender, "message": text}
    if message_id is not None:
        body["message_id"] = message_id
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service_url}/webhooks/rest/webhook", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


@lru_cache
def responses() -> dict[str, list[str]]:
    """Every text variation of every response in domain.yml."""
    domain = YAML(typ="safe").load((PROJECT_DIR / "domain.yml").read_text())
    return {name: [v.get("text", "") for v in variations] for name, variations in domain["responses"].items()}


def is_response(text: str, name: str) -> bool:
    return text in responses()[name]


def cli(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": database_url}, timeout=120, input=stdin)


def add_account(database_url: str, name: str, role: str) -> str:
    """An account made the way an admin hands one over: with the CLI and a password piped
    in (a generated one would have to be changed at first sign-in); returns the password."""
    password = f"{name}-{uuid.uuid4().hex[:12]}"
    result = cli(database_url, "users", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    return password


def cli_json(database_url: str, *args: str):
    result = cli(database_url, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
