"""Peak memory of `python -m bot export` over a large history on PostgreSQL.

    .venv/bin/python -m bench.export [--messages 500000]

Makes a fresh database, fills it with a generated history (conversations of 10 messages,
an event per message, a note and a rating per conversation) in a few set-based INSERTs,
then exports everything in a date range to a file as JSON Lines and as CSV, each in a
child process, and prints the child's peak resident memory and its time. The export
streams (server-side cursor, plain rows), so the peak should not grow with the history.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

from bot.settings import PROJECT_DIR, Settings
from bot.storage.migrate import upgrade
from tests.support.services import fresh_postgres_database

PER_CONVERSATION = 10


def fill(url: str, messages: int) -> None:
    conversations = messages // PER_CONVERSATION
    sync = make_url(Settings.from_mapping({"DATABASE_URL": url}).sync_database_url)
    connection = psycopg2.connect(host=sync.host, port=sync.port, user=sync.username, dbname=sync.database)
    with connection, connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO customers (id, channel, external_id, display_name, created_at)
            SELECT n, 'rest', 'bench-' || n, 'Customer ' || n, now() - interval '30 days'
            FROM generate_series(1, %(c)s) AS n""", {"c": conversations})
        cursor.execute("""
            INSERT INTO conversations (id, customer_id, channel, status, priority, is_public, created_at,
                                       updated_at, last_message_at, closed_at)
            SELECT n, n, 'rest', 'closed', 0, false, now() - interval '20 days', now(), now(), now()
            FROM generate_series(1, %(c)s) AS n""", {"c": conversations})
        cursor.execute("""
            INSERT INTO messages (conversation_id, direction, author, text, data, intent, confidence, sentiment,
                                  delivery_status, created_at)
            SELECT 1 + (n - 1) / %(per)s, CASE WHEN n %% 2 = 0 THEN 'out' ELSE 'in' END,
                   CASE WHEN n %% 2 = 0 THEN 'bot' ELSE 'customer' END,
                   'Message number ' || n || ': where is my order, it was supposed to arrive on Tuesday?',
                   '{}', 'order_status', 0.87, -0.1, CASE WHEN n %% 2 = 0 THEN 'delivered' END,
                   now() - interval '20 days' + n * interval '1 millisecond'
            FROM generate_series(1, %(m)s) AS n""", {"m": messages, "per": PER_CONVERSATION})
        cursor.execute("""
            INSERT INTO conversation_events (conversation_id, kind, data, created_at)
            SELECT 1 + (n - 1) / %(per)s, 'nlu', '{"intent": "order_status", "confidence": 0.87}',
                   now() - interval '20 days'
            FROM generate_series(1, %(m)s) AS n""", {"m": messages, "per": PER_CONVERSATION})
        cursor.execute("""
            INSERT INTO notes (conversation_id, author, text, created_at)
            SELECT n, 'ann', 'Called the carrier about this one', now() - interval '20 days'
            FROM generate_series(1, %(c)s) AS n""", {"c": conversations})
        cursor.execute("""
            INSERT INTO satisfaction (conversation_id, score, agent_name, created_at)
            SELECT n, 1 + n %% 5, 'ann', now() - interval '20 days' FROM generate_series(1, %(c)s) AS n""",
                       {"c": conversations})
        cursor.execute("ANALYZE")
    connection.close()


def export(url: str, fmt: str, out: Path, since: str) -> tuple[float, float, str]:
    """Seconds, the peak RSS in MiB of the largest export child so far, and what it said.

    RUSAGE_CHILDREN's ru_maxrss is the largest of all children so far, so the runs go
    from the smallest up."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bot", "export", "--since", since, "--format", fmt,
                           "--output", str(out)], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, done.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500_000)
    args = parser.parse_args()
    with fresh_postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(Settings.from_mapping({"DATABASE_URL": url}).sync_database_url)
        started = time.monotonic()
        fill(url, args.messages)
        print(f"history of {args.messages:,} messages made in {time.monotonic() - started:.0f} s")
        # An empty range first: the process's own size (Python, SQLAlchemy, the drivers).
        _, empty, _ = export(url, "jsonl", Path(tmp) / "empty.jsonl", "2100-01-01")
        print(f"an export of nothing: peak RSS {empty:.0f} MiB")
        for fmt in ("jsonl", "csv"):
            out = Path(tmp) / f"export.{fmt}"
            seconds, peak, said = export(url, fmt, out, "2000-01-01")
            print(f"{fmt}: {said}; {out.stat().st_size / 2**20:.0f} MiB written in {seconds:.0f} s; "
                  f"peak RSS of the export processes so far {peak:.0f} MiB")


if __name__ == "__main__":
    main()
