"""Queries of the console's training runs (a training, or a version's measurement): start
one (one at a time), record its progress, finish it, and read them back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import TrainingRun

RUNNING = "running"
FINISHED = frozenset({"passed", "refused", "measured", "failed", "lost"})
KINDS = frozenset({"train", "measure"})


async def free_stale_slot(session: AsyncSession, now: datetime, stale_after: timedelta) -> None:
    """A run whose process stopped sending heartbeats (its web process died) is `lost` and
    gives up the running slot."""
    await session.execute(
        update(TrainingRun).where(TrainingRun.running_slot == 1, TrainingRun.heartbeat_at < now - stale_after)
        .values(status="lost", running_slot=None, finished_at=now,
                error="the process running this training stopped; start it again")
    )


async def start_run(session: AsyncSession, started_by: str, activate: bool, now: datetime, *,
                    kind: str = "train", version: str | None = None) -> TrainingRun:
    """A new running run. Raises IntegrityError (at flush) when another run holds the slot.
    A measurement names its version from the start; a training learns it at the end."""
    if kind not in KINDS:
        raise ValueError(f"not a kind of run: {kind}")
    run = TrainingRun(kind=kind, started_by=started_by, activate=activate, status=RUNNING, running_slot=1, steps=[],
                      output="", version=version, started_at=now, heartbeat_at=now)
    session.add(run)
    await session.flush()
    return run


async def running_run_id(session: AsyncSession) -> int | None:
    return (await session.execute(select(TrainingRun.id).where(TrainingRun.running_slot == 1))).scalar()


async def running_run(session: AsyncSession) -> TrainingRun | None:
    return (await session.execute(select(TrainingRun).where(TrainingRun.running_slot == 1))).scalar()


async def record_progress(session: AsyncSession, run_id: int, now: datetime, **values: Any) -> None:
    """Steps, output, progress and the heartbeat of a running run."""
    await session.execute(update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == RUNNING)
                          .values(heartbeat_at=now, **values))


async def finish_run(session: AsyncSession, run_id: int, status: str, now: datetime, **values: Any) -> None:
    if status not in FINISHED:
        raise ValueError(f"not a finished status: {status}")
    await session.execute(update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == RUNNING)
                          .values(status=status, running_slot=None, finished_at=now, heartbeat_at=now, **values))


async def get_run(session: AsyncSession, run_id: int) -> TrainingRun | None:
    return await session.get(TrainingRun, run_id, populate_existing=True)


async def recent_runs(session: AsyncSession, limit: int = 10) -> list[TrainingRun]:
    rows = await session.execute(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit))
    return list(rows.scalars())
