"""`python -m bot report`: the same figures as the page, as JSON, CSV or text, from a real
process on SQLite and PostgreSQL (the history of tests/test_reports.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

from bot.settings import PROJECT_DIR
from tests.test_reports import build_week


def report(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "BUSINESS_HOURS": "Mon-Fri 09:00-18:00",
           "BUSINESS_TIMEZONE": "Europe/London", "FIRST_RESPONSE_TARGET": "15", "REVIEW_CONFIDENCE_THRESHOLD": "0.6"}
    return subprocess.run([sys.executable, "-m", "bot", "report", *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, env=env, timeout=120)


async def test_json_csv_and_text(db, database_url):
    await build_week(db)
    week = ("--since", "2026-03-02", "--until", "2026-03-08")
    done = report(database_url, *week, "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["conversations"] == 7 and figures["handovers"] == 6
    assert figures["contained"] == {"count": 2, "total": 7, "rate": round(2 / 7, 4)}
    assert figures["first_response"]["business"] == {"count": 4, "p50": 300, "p90": 1200}
    assert figures["first_response"]["within_target"]["count"] == 3
    assert figures["satisfaction"]["mean"] == 3.5
    assert [a["name"] for a in figures["agents"]] == ["ann", "bob", "sue"]

    done = report(database_url, *week, "--channel", "facebook", "--csv")
    assert done.returncode == 0, done.stderr
    rows = {(r["figure"], r["dimension"]): r["value"] for r in csv.DictReader(io.StringIO(done.stdout))}
    assert rows[("conversations", "")] == "2" and rows[("channel", "")] == "facebook"
    assert rows[("handover_reason", "abuse")] == "1" and rows[("csat", "mean")] == "5.0"
    assert rows[("day:2026-03-07", "conversations")] == "1"

    done = report(database_url, *week)
    assert done.returncode == 0, done.stderr
    assert any(line.split()[:2] == ["conversations", "7"] for line in done.stdout.splitlines())


def test_a_bad_period_is_refused_with_a_reason(tmp_path):
    done = report(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", "--since", "2026-03-09", "--until", "2026-03-01")
    assert done.returncode == 2 and "'since' is after 'until'" in done.stderr
    done = report(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", "--since", "last week")
    assert done.returncode == 2 and "must be a date" in done.stderr
