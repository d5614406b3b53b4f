"""`make bench`: our service against bare `rasa run`, on the same model and machine.

Prints a Markdown table and writes it to bench/results.md. Everything runs on loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from bench.claim import measure as measure_claim
from bench.load import closed_loop
from bot.settings import PROJECT_DIR
from tests.support.fake_platform import FakePlatform
from tests.support.model import cached_model
from tests.support.process import ServiceProcess, free_port
from tests.support.services import fresh_postgres_database

SENDERS = int(os.environ.get("BENCH_SENDERS", "20"))
MESSAGES_EACH = int(os.environ.get("BENCH_MESSAGES_EACH", "15"))
TELEGRAM_SECRET = "bench-secret"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class BareRasa:
    """`rasa run --enable-api` with the REST channel and an in-memory tracker."""

    def __init__(self, model: Path) -> None:
        self.port = free_port()
        self.model = model
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> BareRasa:
        endpoints = Path(tempfile.mkdtemp()) / "endpoints.yml"
        endpoints.write_text("{}\n")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--enable-api", "--connector", "rest", "-m", str(self.model),
             "--endpoints", str(endpoints), "-p", str(self.port), "-i", "127.0.0.1"],
            cwd=PROJECT_DIR, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=2) as response:
                    if json.loads(response.read()).get("model_file"):
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("bare rasa did not start")

    def __exit__(self, *_) -> None:
        self.process.terminate()
        self.process.wait(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/rest/webhook"


async def ack_latency_while_saturated(service: ServiceProcess, rest_url: str, count: int = 200) -> dict:
    """Signed Telegram webhooks acknowledged while the REST load keeps the model busy."""
    load = asyncio.create_task(closed_loop(rest_url, SENDERS, MESSAGES_EACH))
    await asyncio.sleep(2)
    latencies = []
    async with aiohttp.ClientSession() as http:
        for n in range(count):
            update = {"update_id": 10_000_000 + n, "message": {
                "message_id": n, "date": int(time.time()), "text": "what are your opening hours?",
                "chat": {"id": 5000 + n % 50, "type": "private"},
                "from": {"id": 5000 + n % 50, "is_bot": False, "first_name": "Bench"}}}
            started = time.perf_counter()
            async with http.post(f"{service.url}/webhooks/telegram/webhook", json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) as response:
                assert response.status == 200, await response.text()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    await load
    latencies.sort()
    return {"acks": len(latencies), "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1)}


async def main() -> None:
    model = cached_model()
    rows: list[tuple[str, str]] = []
    log(f"model {model.name}; {SENDERS} senders x {MESSAGES_EACH} messages")

    with BareRasa(model) as bare:
        await closed_loop(bare.url, 4, 3)  # warm-up
        bare_result = (await closed_loop(bare.url, SENDERS, MESSAGES_EACH)).summary()
    log(f"bare rasa: {bare_result}")

    fake = FakePlatform(lambda r: (200, {"ok": True, "result": {"message_id": 1}})).start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db", "MODEL_PATH": str(model),
               "TELEGRAM_BOT_TOKEN": "bench", "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
               "TELEGRAM_API_URL": fake.url, "LOG_LEVEL": "WARNING"}
        ours = ServiceProcess(env).start()
        try:
            rest = f"{ours.url}/webhooks/rest/webhook"
            await closed_loop(rest, 4, 3)
            ours_result = (await closed_loop(rest, SENDERS, MESSAGES_EACH)).summary()
            log(f"ours (SQLite, one process): {ours_result}")
            ack = await ack_latency_while_saturated(ours, rest)
            log(f"acknowledgement while saturated: {ack}")
        finally:
            ours.stop()
    fake.stop()

    scaling = {}
    for workers in (1, 2, 4):
        with fresh_postgres_database() as url:
            env = {"DATABASE_URL": url, "MODEL_PATH": str(model), "REDIS_URL": "redis://127.0.0.1:6379/3",
                   "LOG_LEVEL": "WARNING", "WORKER_CONCURRENCY": "8"}
            web = ServiceProcess(env, command="web").start()
            pool = [ServiceProcess(env, command="worker").start() for _ in range(workers)]
            try:
                rest = f"{web.url}/webhooks/rest/webhook"
                await closed_loop(rest, 4, 3)
                scaling[workers] = (await closed_loop(rest, SENDERS, MESSAGES_EACH)).summary()
                log(f"PostgreSQL + Redis, {workers} worker(s): {scaling[workers]}")
            finally:
                for process in [web, *pool]:
                    process.stop()

    with fresh_postgres_database() as url:
        from bot.storage.migrate import upgrade

        upgrade(url.replace("+asyncpg", "+psycopg2"))
        claim = await measure_claim(url)
    log(f"claim: {claim}")

    ratio = ours_result["throughput"] / bare_result["throughput"] if bare_result["throughput"] else float("nan")
    lines = [
        f"# Benchmarks ({platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"model {model.name})",
        "",
        f"Closed loop: {SENDERS} concurrent senders x {MESSAGES_EACH} routine questions, distinct senders, REST.",
        "",
        "| set-up | answered/s | p50 ms | p99 ms | errors | ratio to bare Rasa |",
        "|---|---|---|---|---|---|",
        _row("bare `rasa run` (in-memory tracker)", bare_result, 1.0),
        _row("ours, one process, SQLite (history + SQL tracker)", ours_result, ratio),
        *(_row(f"ours, web + {w} worker(s), PostgreSQL + Redis", r,
               r["throughput"] / bare_result["throughput"]) for w, r in scaling.items()),
        "",
        "| measure | p50 ms | p99 ms | target |",
        "|---|---|---|---|",
        f"| webhook acknowledgement while the model is saturated (signed Telegram update) | {ack['p50_ms']} | "
        f"{ack['p99_ms']} | p99 < 20 |",
        f"| take next from {claim['waiting']:,} waiting conversations ({claim['agents']} agents at once, PostgreSQL)"
        f" | {claim['p50_ms']} | {claim['p99_ms']} | < 10 |",
        "",
    ]
    table = "\n".join(lines)
    (PROJECT_DIR / "bench" / "results.md").write_text(table)
    print(table)


def _row(name: str, result: dict, ratio: float) -> str:
    return (f"| {name} | {result['throughput']} | {result['p50_ms']} | {result['p99_ms']} | "
            f"{result['errors'] + result['empty']} | {ratio:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
