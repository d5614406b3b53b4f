"""`make fuzz`: every way into the running service, sent generated hostile bodies.

For each webhook (Messenger, Instagram, WhatsApp, X, Telegram, REST) and the web chat's
and socket.io's WebSocket frames: FUZZ_COUNT (10,000) bodies from tests/support/fuzz.py,
FUZZ_SEED (1) picks them, FUZZ_TARGETS (all) names some. The service is `bot run` on
SQLite with the cached demo model, its platform APIs faked on loopback; `--postgres` (or
FUZZ_DATABASE=postgres) runs it on a new database of the PostgreSQL at 127.0.0.1:5432,
dropped afterwards, which refuses NUL characters and over-long ids. Prints per target the
requests, the answers by status, the 5xx, the service's RSS before and after, and
whether a real question still gets a real answer; exits 1 if any target failed (a 5xx, a
connection dropped, a traceback in the service's log, a dead or unanswering service).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.results_file import write_section
from tests.support.fake_platform import FakePlatform
from tests.support.fuzz import TARGETS, service_settings
from tests.support.fuzz_driver import Report, fuzz_target
from tests.support.model import cached_model
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database

COUNT = int(os.environ.get("FUZZ_COUNT", "10000"))
SEED = int(os.environ.get("FUZZ_SEED", "1"))
CONCURRENCY = int(os.environ.get("FUZZ_CONCURRENCY", "8"))
NAMES = [n for n in os.environ.get("FUZZ_TARGETS", "").split(",") if n]
POSTGRES = "--postgres" in sys.argv[1:] or os.environ.get("FUZZ_DATABASE", "sqlite") == "postgres"
RESULTS = Path(__file__).resolve().parent / "results.md"
# The heading of the section of bench/results.md that `make fuzz` writes.
FUZZING_HEADING = "## Fuzzing"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def service_env(fake_api_url: str, database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "MODEL_PATH": str(cached_model()),
            "CONSOLE_FIRST_ADMIN": "false", "POLL_INTERVAL": "0.2", **service_settings(fake_api_url)}


def table(reports: list[Report]) -> str:
    lines = ["| target | requests | answers | 5xx | RSS before → after (MB) | answers a real question after | log clean | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        answers = ", ".join(f"{kind}: {n}" for kind, n in sorted(r.answers.items()) if n)
        lines.append(f"| {r.target} | {r.requests} | {answers} | {r.server_errors} | "
                     f"{r.rss_before_kb / 1024:.0f} → {r.rss_after_kb / 1024:.0f} | "
                     f"{'yes' if r.answers_after else 'NO'} | {'yes' if not r.crash_lines else 'NO'} | "
                     f"{r.seconds:.0f} |")
    return "\n".join(lines)


async def main() -> int:
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="fuzz-"))
        database_url = (stack.enter_context(fresh_postgres_database()) if POSTGRES
                        else f"sqlite+aiosqlite:///{workdir / 'assistant.db'}")
        return await fuzz(database_url, workdir)


async def fuzz(database_url: str, workdir: Path) -> int:
    targets = [t for t in TARGETS if not NAMES or t.name in NAMES]
    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    fake = FakePlatform().start()
    env = service_env(fake.url, database_url)
    service = ServiceProcess(env, log_path=workdir / "service.log")
    log(f"starting `bot run` (log: {service.log_path}); settings that differ from the defaults:")
    for key, value in sorted(env.items()):
        log(f"  {key}={value}")
    reports: list[Report] = []
    started = time.monotonic()
    try:
        service.start(timeout=900)  # a shared machine may take minutes to load the model
        for target in targets:
            log(f"{target.name}: {COUNT} bodies (seed {SEED}) ...")
            report = await fuzz_target(service, target, COUNT, SEED, CONCURRENCY)
            reports.append(report)
            log(f"  {dict(report.answers)}; 5xx {report.server_errors}; answers after: {report.answers_after}; "
                f"RSS {report.rss_before_kb} → {report.rss_after_kb} kB; {report.seconds:.0f} s")
            for line in report.crash_lines[:20]:
                log(f"  log: {line}")
            if not report.alive:
                break
    finally:
        service.stop()
        fake.stop()
    failed = [r.target for r in reports if not r.ok] + [t.name for t in targets[len(reports):]]
    section = "\n".join([
        f"{FUZZING_HEADING}{' on PostgreSQL' if backend == 'PostgreSQL' else ''} "
        f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
        f"`make fuzz`: {COUNT} bodies a target, seed {SEED}, {CONCURRENCY} in flight, `bot run` on {backend}; "
        f"{time.monotonic() - started:.0f} s in all; load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}. Settings that differ from the defaults: "
        + ", ".join(f"`{k}={v}`" for k, v in sorted(env.items()) if k not in ("DATABASE_URL", "MODEL_PATH")) + ".", "",
        table(reports), "",
        "FAILED: " + ", ".join(failed) if failed else "No 5xx, no crash; the service answered a real question after each target.",
    ])
    print(section)
    if not NAMES and COUNT >= 10_000:  # a full run is the one worth keeping
        write_section(RESULTS, "fuzz-postgres" if backend == "PostgreSQL" else "fuzz", section,
                      legacy_heading=None if backend == "PostgreSQL" else FUZZING_HEADING)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
