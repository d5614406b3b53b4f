"""`make bench`: our service against bare `rasa run`, on the same model and machine.

Prints a Markdown table and writes it to its own section of bench/results.md. Everything runs on loopback:
the machine's PostgreSQL and Redis, fake platform APIs in this process. Figures, never
pass/fail: the targets are printed beside them.

BENCH_SENDERS (20) and BENCH_MESSAGES_EACH (15) size the closed-loop load;
BENCH_WORKERS ("1,2,4") the scaling runs; BENCH_WAITING (10000) the claim queues.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench.claim import measure as measure_claim
from bench.claim import measure_inbox
from bench.load import LoadResult, closed_loop
from bot.messages import utcnow
from bot.settings import PROJECT_DIR
from bench.results_file import write_section
from channels.twitter import signature
from tests.support.fake_platform import FakePlatform, Recorded
from tests.support.model import cached_model
from tests.support.process import ServiceProcess, free_port
from tests.support.services import fresh_postgres_database

SENDERS = int(os.environ.get("BENCH_SENDERS", "20"))
MESSAGES_EACH = int(os.environ.get("BENCH_MESSAGES_EACH", "15"))
WORKER_COUNTS = tuple(int(n) for n in os.environ.get("BENCH_WORKERS", "1,2,4").split(","))
WAITING = int(os.environ.get("BENCH_WAITING", "10000"))
SECRET = "bench-consumer-secret"
BRAND = "1503227405498351616"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    if not ordered:
        return {"count": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    return {"count": len(ordered), "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)}


class BareRasa:
    """`rasa run --enable-api` with the REST channel and an in-memory tracker."""

    def __init__(self, model: Path, action_endpoint: str | None = None) -> None:
        self.port = free_port()
        self.model = model
        self.action_endpoint = action_endpoint
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> BareRasa:
        endpoints = Path(tempfile.mkdtemp()) / "endpoints.yml"
        endpoints.write_text(f"action_endpoint:\n  url: {json.dumps(self.action_endpoint)}\n"
                             if self.action_endpoint else "{}\n")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--enable-api", "--connector", "rest", "-m", str(self.model),
             "--endpoints", str(endpoints), "-p", str(self.port), "-i", "127.0.0.1"],
            cwd=PROJECT_DIR, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=2) as response:
                    if json.loads(response.read()).get("model_file"):
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("bare rasa did not start in 900 s")

    def __exit__(self, *_) -> None:
        self.process.terminate()
        self.process.wait(30)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/webhooks/rest/webhook"


class XApi:
    """A fake X API that notes when each DM arrives (this process's clock, for latencies)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.server = FakePlatform(self._answer)

    def _answer(self, recorded: Recorded) -> tuple[int, dict]:
        self.arrived[(recorded.json or {}).get("text", "")] = time.perf_counter()
        return 200, {"data": {"dm_event_id": uuid.uuid4().hex[:12]}}

    def settings(self) -> dict[str, str]:
        return {"TWITTER_CONSUMER_SECRET": SECRET, "TWITTER_ACCESS_TOKEN": "bench", "TWITTER_USER_ID": BRAND,
                "TWITTER_API_URL": self.server.url}


def dm_body(sender: str, message_id: str, text: str) -> bytes:
    return json.dumps({"for_user_id": BRAND, "direct_message_events": [{
        "type": "message_create", "id": message_id, "created_timestamp": str(int(time.time() * 1000)),
        "message_create": {"target": {"recipient_id": BRAND}, "sender_id": sender, "message_data": {"text": text}},
    }]}).encode()


async def post_dm(http: aiohttp.ClientSession, url: str, sender: str, message_id: str, text: str) -> int:
    body = dm_body(sender, message_id, text)
    async with http.post(f"{url}/webhooks/twitter/webhook", data=body, headers={
            "Content-Type": "application/json", "x-twitter-webhooks-signature": signature(SECRET, body)}) as response:
        await response.read()
        return response.status


async def ack_while_saturated(service_url: str, count: int = 300) -> dict:
    """Signed X webhooks acknowledged while the closed-loop REST load keeps the model busy."""
    rest = f"{service_url}/webhooks/rest/webhook"
    # Four times the measured load, so that it lasts as long as the acknowledgements do.
    load = asyncio.create_task(closed_loop(rest, SENDERS, MESSAGES_EACH * 4))
    await asyncio.sleep(3)  # let the load fill the workers
    latencies, run = [], uuid.uuid4().hex[:6]
    async with aiohttp.ClientSession() as http:
        for n in range(count):
            if load.done():
                break
            started = time.perf_counter()
            status = await post_dm(http, service_url, str(7_000_000 + n % 50), f"ack-{run}-{n}",
                                   "what are your opening hours?")
            assert status == 200, status
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    saturated = not load.done()
    load.cancel()  # the acknowledgements are measured; the rest of the load is not needed
    await asyncio.gather(load, return_exceptions=True)
    return {**percentiles(latencies), "saturated_throughout": saturated}


async def agent_reply_to_send(database_url: str, redis_url: str, service_url: str, x: XApi,
                              conversations: int = 10, replies_each: int = 10) -> dict:
    """An agent's reply committed (as the console does) → the platform API called by a worker."""
    from bot.console.desk import Desk
    from bot.redis_bus import RedisBus
    from bot.storage.database import Database
    from bot.storage.models import Conversation, Customer
    from bot.storage.queue import claim_next_waiting, hand_to_queue
    from sqlalchemy import select

    run = uuid.uuid4().hex[:6]
    senders = [str(8_000_000 + n) for n in range(conversations)]
    async with aiohttp.ClientSession() as http:
        for sender in senders:
            assert await post_dm(http, service_url, sender, f"agent-{run}-{sender}", "hello") == 200
    db, bus = Database(database_url), RedisBus(redis_url)
    await bus.start()
    try:
        ids: list[int] = []
        deadline = time.monotonic() + 120
        while len(ids) < conversations and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            async with db.session() as session:
                ids = list((await session.execute(select(Conversation.id).join(Customer).where(
                    Customer.channel == "twitter", Customer.external_id.in_(senders)))).scalars())
        await asyncio.sleep(2)  # the bot's own answers to "hello" go out first
        for conversation_id in ids:
            async with db.session() as session:
                conversation = await session.get(Conversation, conversation_id)
                if conversation.status == "bot":
                    await hand_to_queue(session, conversation, "bench", 0, utcnow())
            async with db.session() as session:
                await claim_next_waiting(session, "bench-agent", utcnow())
        desk = Desk(db, bus)
        latencies = []
        for n in range(replies_each):
            for conversation_id in ids:
                text = f"Agent reply {run}-{conversation_id}-{n}"
                started = time.perf_counter()
                await desk.reply(conversation_id, "bench-agent", text)
                while text not in x.arrived:
                    await asyncio.sleep(0.0005)
                latencies.append(x.arrived[text] - started)
        return percentiles(latencies)
    finally:
        await bus.close()
        await db.close()


async def section(name: str, work: Callable[[], Awaitable[dict]], results: dict) -> None:
    started = time.monotonic()
    try:
        results[name] = await work()
    except Exception as error:  # one broken section must not hide the others' figures
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        results[name] = {"error": f"{type(error).__name__}: {first_line}"[:160]}
    results[name]["took_s"] = round(time.monotonic() - started, 1)
    log(f"{name}: {results[name]}")


async def measure_load(url: str) -> dict:
    await closed_loop(url, 4, 3)  # warm-up: first predictions are slow
    result: LoadResult = await closed_loop(url, SENDERS, MESSAGES_EACH)
    return result.summary()


async def main() -> None:
    started = time.monotonic()
    model = cached_model()
    results: dict[str, dict] = {}
    log(f"model {model.name}; {SENDERS} senders x {MESSAGES_EACH} messages; workers {WORKER_COUNTS}")
    quiet = {"LOG_LEVEL": "WARNING", "SENDER_RATE_PER_MINUTE": "0", "ADDRESS_RATE_PER_MINUTE": "0",
             "DEMO_ORDERS": "false", "POLL_INTERVAL": "0.5"}

    async def bare() -> dict:
        with BareRasa(model) as rasa:
            return await measure_load(rasa.url)

    await section("bare", bare, results)

    x = XApi()
    x.server.start()

    async def embedded() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db", "MODEL_PATH": str(model), **quiet,
                   **x.settings()}
            service = ServiceProcess(env).start(timeout=900)
            try:
                load = await measure_load(f"{service.url}/webhooks/rest/webhook")
                results["ack embedded"] = await ack_while_saturated(service.url)
                log(f"ack embedded: {results['ack embedded']}")
                return load
            finally:
                service.stop()

    await section("embedded", embedded, results)

    async def scaling() -> dict:
        """One web process and max(BENCH_WORKERS) workers; measured with all, then with fewer:
        every model load costs minutes of CPU, so none is repeated."""
        found = results  # figures kept as they come, should a later step fail
        with fresh_postgres_database() as url:
            from bot.storage.migrate import upgrade

            upgrade(url.replace("+asyncpg", "+psycopg2"))
            redis_url = "redis://127.0.0.1:6379/3"
            env = {"DATABASE_URL": url, "MODEL_PATH": str(model), "REDIS_URL": redis_url, **quiet, **x.settings()}
            web = ServiceProcess(env, command="web").start(timeout=900)
            pool = [ServiceProcess(env, command="worker") for _ in range(max(WORKER_COUNTS))]
            try:
                await asyncio.gather(*(asyncio.to_thread(worker.start, 900) for worker in pool))
                rest = f"{web.url}/webhooks/rest/webhook"
                await closed_loop(rest, 4, 3)  # warm-up: first predictions are slow
                for workers in sorted(WORKER_COUNTS, reverse=True):
                    for extra in pool[workers:]:
                        extra.stop()
                    found[f"workers {workers}"] = (await closed_loop(rest, SENDERS, MESSAGES_EACH)).summary()
                    log(f"workers {workers}: {found[f'workers {workers}']}")
                    if workers == min(WORKER_COUNTS, key=lambda n: abs(n - 2)):
                        found["ack scale-out"] = await ack_while_saturated(web.url)
                        log(f"ack scale-out: {found['ack scale-out']}")
                        found["agent reply"] = await agent_reply_to_send(url, redis_url, web.url, x)
                        log(f"agent reply: {found['agent reply']}")
            finally:
                for process in [web, *pool]:
                    process.stop()
        return {}

    await section("scaling", scaling, results)
    x.server.stop()

    async def claims() -> dict:
        from bot.storage.migrate import upgrade

        found = {}
        for name, measure in (("agents", measure_claim), ("workers", measure_inbox)):
            with fresh_postgres_database() as url:
                upgrade(url.replace("+asyncpg", "+psycopg2"))
                # One claim at a time: concurrent claimers in this one process would measure
                # its own event loop; concurrency is what the tests check.
                found[name] = await measure(url, WAITING, 300, 1)
        return found

    await section("claim", claims, results)
    table = render(results, model, time.monotonic() - started)
    # Its own section only: the file also holds other benchmarks' (reports, fuzzing...).
    write_section(PROJECT_DIR / "bench" / "results.md", "run", table, legacy_heading="# Benchmarks")
    print(table)


def render(results: dict, model: Path, seconds: float) -> str:
    bare = results.get("bare", {})

    def ratio(result: dict) -> str:
        if not bare.get("throughput") or not result.get("throughput"):
            return "–"
        return f"{result['throughput'] / bare['throughput']:.2f}"

    def row(name: str, result: dict | None) -> str:
        result = result or {"error": results.get("scaling", {}).get("error", "not measured")}
        if "error" in result:
            return f"| {name} | failed: {result['error']} | | | | |"
        return (f"| {name} | {result['throughput']} | {result['p50_ms']} | {result['p99_ms']} | "
                f"{result['errors'] + result['empty']} | {ratio(result)} |")

    def measure(name: str, result: dict | None, target: str) -> str:
        if not result:
            return f"| {name} | – | – | {target} |"
        if "error" in result:
            return f"| {name} | failed: {result['error']} | | {target} |"
        return f"| {name} | {result['p50_ms']} | {result['p99_ms']} | {target} |"

    cpu = platform.processor() or platform.machine()
    claims = results.get("claim", {})
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    lines = [
        f"# Benchmarks ({platform.node()}: {os.cpu_count()} cores {cpu}, Python {platform.python_version()}, "
        f"model {model.name}; {seconds / 60:.0f} min in all)",
        "",
        f"Load average at the end: {load} (other work on the machine inflates every figure alike).",
        "",
        f"Closed loop over REST: {SENDERS} concurrent senders x {MESSAGES_EACH} routine questions each, "
        "distinct senders; each sends its next question when the last is answered.",
        "",
        "| set-up | answered/s | p50 ms | p99 ms | errors | ratio to bare Rasa |",
        "|---|---|---|---|---|---|",
        row("bare `rasa run --enable-api` (in-memory tracker and lock store)", bare),
        row("ours, `bot run`: the service and its model process, SQLite (history + SQL tracker)",
            results.get("embedded")),
        *(row(f"ours, `bot web` + {w} x `bot worker`, PostgreSQL + Redis", results.get(f"workers {w}", {}))
          for w in WORKER_COUNTS),
        "",
        "| measure | p50 ms | p99 ms | target |",
        "|---|---|---|---|",
        measure("signed X webhook acknowledged while the model is saturated (`bot run`, SQLite)",
                results.get("ack embedded"), "p99 < 20"),
        measure("the same, web process of the scale-out set-up (PostgreSQL)", results.get("ack scale-out"),
                "p99 < 20"),
        measure("agent reply committed → X API called (scale-out, Redis notice)", results.get("agent reply"),
                "p99 < 50"),
        measure(f"agent takes the next of {WAITING:,} waiting conversations (one transaction)",
                claims.get("agents"), "< 10"),
        measure(f"dialogue worker claims the next of {WAITING:,} waiting messages (one statement)",
                claims.get("workers"), "< 10"),
        "",
        "Bare Rasa answers inside the webhook request, so its acknowledgement is its answer: "
        f"p50 {bare.get('p50_ms', '–')} ms, p99 {bare.get('p99_ms', '–')} ms under the same load.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
