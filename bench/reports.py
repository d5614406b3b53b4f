"""`make bench-reports`: the Reports page's figures over a large history, on PostgreSQL.

Makes a fresh database on the machine's server with BENCH_CONVERSATIONS (100,000)
conversations of BENCH_MESSAGES_EACH (10) messages, all started in the last 30 days, so
a 30-day report reads the whole history (the worst case for it); written with COPY. Then
times `build_report` (the code the page's API and `python -m bot report` call) for 30
days, 30 days of one channel and 7 days, and writes the figures to their own section of
bench/results.md under a dated heading.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone

from bench.results_file import write_section
from bot.business_hours import parse
from bot.reports import ReportSettings, build_report, period
from bot.settings import PROJECT_DIR, Settings
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from tests.support.services import fresh_postgres_database

CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "100000"))
MESSAGES_EACH = int(os.environ.get("BENCH_MESSAGES_EACH", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
CHANNELS = ("webchat", "facebook", "instagram", "whatsapp", "telegram")
AGENTS = ("ann", "bob", "chloe", "dev", "emma", "farid", "grace", "hugo", "ines", "jon", "kemal", "lena")
INTENTS = ("greet", "order_status", "opening_hours", "returns", "ask_price", "goodbye")
REASONS = ("customer_request", "complaint", "out_of_scope", "negative_sentiment", "abuse")
CONFIG = ReportSettings(parse("Mon-Fri 09:00-18:00; Sat 10:00-16:00", "Europe/London"), 15 * 60, 0.6)


def backend_cpu(database: str) -> float:
    """CPU seconds used so far by PostgreSQL's server processes of `database` (on this
    machine): the work the reports cost the database, apart from the other users' load."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            if not command.startswith("postgres:") or f" {database} " not in command:
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            continue
    return total


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def history(now: datetime, conversations: int, messages_each: int, seed: int = 7):
    """Rows of customers, conversations, messages, events and ratings: a quarter of the
    conversations handed over, most of those answered and resolved, half of those rated."""
    rng = random.Random(seed)
    customers, convs, messages, events, ratings = [], [], [], [], []
    message_id = event_id = 0
    empty = "{}"
    for cid in range(1, conversations + 1):
        channel = CHANNELS[cid % len(CHANNELS)]
        started = _start(rng, now)
        customers.append((cid, channel, f"c{cid}", None, started, None))
        handed = rng.random() < 0.25
        status = "bot"
        clock = started
        handoff_at = None
        agent = AGENTS[cid % len(AGENTS)]
        for n in range(messages_each):
            clock += timedelta(seconds=rng.uniform(2, 90))
            if n % 2 == 0:
                low = rng.random() < 0.12
                intent = "nlu_fallback" if low and rng.random() < 0.5 else rng.choice(INTENTS)
                confidence = 0.4 if intent == "nlu_fallback" else (rng.uniform(0.3, 0.6) if low else rng.uniform(0.6, 1))
                if handoff_at is not None:
                    intent = confidence = None  # with a person: the model does not read it
                message_id += 1
                messages.append((message_id, cid, "in", "customer", f"question {rng.randrange(400)}", empty,
                                 None, None, intent, confidence, None, 0.0, None, None, clock))
                if intent is not None:
                    event_id += 1
                    events.append((event_id, cid, "nlu", json.dumps({"message_id": message_id, "intent": intent}),
                                   clock))
                if handed and handoff_at is None and n >= messages_each // 3:
                    handoff_at = clock + timedelta(seconds=1)
                    event_id += 1
                    events.append((event_id, cid, "handoff", json.dumps(
                        {"reason": rng.choice(REASONS), "priority": 0}), handoff_at))
                    status = "queued"
                    clock += timedelta(seconds=rng.expovariate(1 / 900))
            else:
                author = "agent" if handoff_at is not None else "bot"
                message_id += 1
                messages.append((message_id, cid, "out", author, "answer", empty, None, None, None, None, None,
                                 None, agent if author == "agent" else None, "sent", clock))
        # The last two hours' hand-overs are still with people; older ones were resolved or handed back.
        if handoff_at is not None and started < now - timedelta(hours=2) and rng.random() < 0.85:
            clock += timedelta(seconds=rng.uniform(60, 3600))
            event_id += 1
            events.append((event_id, cid, "resolved", json.dumps({"by": agent, "ask_satisfaction": True}), clock))
            event_id += 1
            events.append((event_id, cid, "satisfaction_asked", json.dumps({"by": agent}), clock))
            status = "closed"
            if rng.random() < 0.5:
                ratings.append((len(ratings) + 1, cid, rng.choice((1, 2, 3, 4, 4, 5, 5, 5)), agent, clock))
        elif handoff_at is not None and started < now - timedelta(hours=2):
            clock += timedelta(seconds=rng.uniform(60, 3600))
            event_id += 1
            events.append((event_id, cid, "handback", json.dumps({"by": agent}), clock))
            status = "bot"
        convs.append((cid, cid, channel, status, None, 0, False, None, agent if handoff_at else None,
                      started, clock, clock, clock, handoff_at, None, None))
    return customers, convs, messages, events, ratings


# Customers write mostly in the day and less at the weekend.
HOURLY = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 10, 10, 10, 9, 9, 8, 7, 6, 4, 3, 2)


def _start(rng: random.Random, now: datetime) -> datetime:
    while True:
        day = (now - timedelta(days=rng.randrange(30))).replace(hour=0, minute=0, second=0, microsecond=0)
        started = day + timedelta(hours=rng.choices(range(24), weights=HOURLY)[0], seconds=rng.uniform(0, 3600))
        if started < now - timedelta(minutes=10) and (day.weekday() < 5 or rng.random() < 0.6):
            return started


COLUMNS = {
    "customers": ("id", "channel", "external_id", "display_name", "created_at", "messaging_id"),
    "conversations": ("id", "customer_id", "channel", "status", "handoff_reason", "priority", "is_public",
                      "sentiment", "assigned_agent", "created_at", "updated_at", "last_message_at",
                      "last_customer_message_at", "queued_at", "assigned_at", "closed_at"),
    "messages": ("id", "conversation_id", "direction", "author", "text", "data", "platform_message_id",
                 "client_id", "intent", "confidence", "entities", "sentiment", "agent_name", "delivery_status",
                 "created_at"),
    "conversation_events": ("id", "conversation_id", "kind", "data", "created_at"),
    "satisfaction": ("id", "conversation_id", "score", "agent_name", "created_at"),
}


async def insert_history(db: Database, now: datetime, conversations: int, messages_each: int = MESSAGES_EACH) -> None:
    """The same history through SQLAlchemy, on either backend (a smaller one: the browser
    test's screenshot shows a month of it)."""
    from bot.storage.models import Base

    for name, rows in zip(COLUMNS, history(now, conversations, messages_each)):
        table = Base.metadata.tables[name]
        json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
        records = [{column: json.loads(value) if column in json_columns and value is not None else value
                    for column, value in zip(COLUMNS[name], row)} for row in rows]
        for first in range(0, len(records), 5000):
            async with db.session() as session:
                await session.execute(table.insert(), records[first:first + 5000])
    # Rows written as they are, not by the service: their hand-over facts as the upgrade makes them.
    from bot.storage import handover_facts

    async with db.engine.begin() as connection:
        await connection.run_sync(handover_facts.fill)


async def load(url: str, now: datetime) -> dict[str, int]:
    import asyncpg

    started = time.perf_counter()
    tables = dict(zip(COLUMNS, history(now, CONVERSATIONS, MESSAGES_EACH)))
    log(f"generated in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{len(rows):,} {name}" for name, rows in tables.items()))
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        started = time.perf_counter()
        for name, rows in tables.items():
            await connection.copy_records_to_table(name, records=rows, columns=COLUMNS[name])
        for name in tables:
            await connection.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))")
        log(f"copied in {time.perf_counter() - started:.1f} s")
        # A live database has statistics and a visibility map; a table filled a moment ago has neither.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return {name: len(rows) for name, rows in tables.items()}


async def measure(url: str, now: datetime) -> list[dict]:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    db = Database(url)
    results = []
    try:
        for label, days, channel in (("30 days", "30d", None), ("30 days, one channel", "30d", "facebook"),
                                     ("7 days", "7d", None)):
            span = period(None, None, "Europe/London", now, days)
            timings, cpu, server, report = [], [], [], None
            for _ in range(RUNS + 1):  # the first warms the connection pool and the caches
                started, started_cpu, started_server = time.perf_counter(), time.process_time(), backend_cpu(database)
                report = await build_report(db, CONFIG, span, channel, now)
                timings.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                server.append(backend_cpu(database) - started_server)
            timings, cpu, server = timings[1:], cpu[1:], server[1:]
            results.append({"report": label, "conversations": report.conversations,
                            "hand-overs": report.handovers, "customer messages": report.customer_messages,
                            "median_s": statistics.median(timings), "max_s": max(timings),
                            "cpu_s": statistics.median(cpu), "server_cpu_s": statistics.median(server),
                            "load": os.getloadavg()[0]})
            log(f"{label}: median {statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms, "
                f"service CPU {statistics.median(cpu) * 1000:.0f} ms, PostgreSQL CPU {statistics.median(server) * 1000:.0f} ms, "
                f"load {os.getloadavg()[0]:.1f}")
    finally:
        await db.close()
    return results


def markdown(counts: dict[str, int], results: list[dict], upgrade_seconds: float) -> str:
    load1, load5, load15 = os.getloadavg()
    lines = [f"## Reports over 1,000,000 messages ({date.today().isoformat()})", "",
             f"vm: {os.cpu_count()} cores {platform.machine()}, Python {platform.python_version()}, "
             f"PostgreSQL on the same machine; load average at the end {load1:.1f}, {load5:.1f}, {load15:.1f}.",
             "`make bench-reports`: " + ", ".join(f"{n:,} {name}" for name, n in counts.items())
             + ", all started in the last 30 days (the worst case for a 30-day report); "
             f"`build_report` timed {RUNS} times after one warm-up run (median and max of the wall "
             "clock; service CPU: the median CPU time of the reporting process itself; PostgreSQL CPU: the "
             "median CPU time of the database's server processes for the report, read from /proc; "
             "load: the 1-minute load average after the runs; the rest of the wall clock is waiting "
             "for one of the 2 cores).", "",
             "| report | conversations | hand-overs | customer messages | median ms | max ms | service CPU ms "
             "| PostgreSQL CPU ms | load | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.get("first"):
            continue
        lines.append(f"| {r['report']} | {r['conversations']:,} | {r['hand-overs']:,} | {r['customer messages']:,} "
                     f"| {r['median_s'] * 1000:.0f} | {r['max_s'] * 1000:.0f} | {r['cpu_s'] * 1000:.0f} "
                     f"| {r['server_cpu_s'] * 1000:.0f} | {r['load']:.1f} | < 1000 |")
    lines += ["", f"Migration 0008 works out the facts of every past hand-over (table `report_handovers`) "
              f"once, in SQL: {upgrade_seconds:.1f} s for this history. The service then keeps them as it writes "
              "the history; a report only reads."]
    return "\n".join(lines) + "\n"


async def _analyze(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:  # as autovacuum would, soon after the upgrade
        await connection.execute("ANALYZE report_handovers")
    finally:
        await connection.close()


async def main() -> None:
    now = datetime.now(timezone.utc)
    with fresh_postgres_database() as url:
        sync_url = Settings.from_mapping({"DATABASE_URL": url}).sync_database_url
        # The history as a service before 0008 wrote it, then the upgrade that works out its hand-overs.
        upgrade(sync_url, "0007")
        counts = await load(url, now)
        started = time.perf_counter()
        upgrade(sync_url)
        upgrade_seconds = time.perf_counter() - started
        log(f"upgrade to 0008 (every past hand-over's facts): {upgrade_seconds:.1f} s")
        await _analyze(url)
        results = await measure(url, now)
    table = markdown(counts, results, upgrade_seconds)
    print(table)
    write_section(PROJECT_DIR / "bench" / "results.md", "reports", table, legacy_heading="## Reports over")


if __name__ == "__main__":
    asyncio.run(main())
