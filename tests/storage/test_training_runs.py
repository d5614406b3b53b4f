"""Training runs on both backends: one at a time, a dead run's slot taken over, progress
recorded only while running; and the migrations build exactly the models' schema."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.messages import utcnow
from bot.storage import training as store

STALE = timedelta(seconds=60)


async def start(db, by: str, now=None):
    async with db.session() as session:
        await store.free_stale_slot(session, now or utcnow(), STALE)
    async with db.session() as session:
        return (await store.start_run(session, by, True, now or utcnow())).id


async def test_only_one_run_at_a_time_even_when_started_together(db):
    results = await asyncio.gather(*(start(db, f"trainer{n}") for n in range(4)), return_exceptions=True)
    started = [r for r in results if isinstance(r, int)]
    assert len(started) == 1
    assert all(isinstance(r, IntegrityError) for r in results if not isinstance(r, int))
    async with db.session() as session:
        assert await store.running_run_id(session) == started[0]


async def test_a_finished_run_frees_the_slot_and_keeps_its_outcome(db):
    first = await start(db, "tess")
    async with db.session() as session:
        await store.record_progress(session, first, utcnow(), steps=[{"text": "training", "at": "x"}],
                                    output="Epochs: 100%", progress_done=3, progress_total=3)
        await store.finish_run(session, first, "passed", utcnow(), version="model-1", report="Gate: PASSED")
    second = await start(db, "tess")
    async with db.session() as session:
        done = await store.get_run(session, first)
        assert (done.status, done.version, done.report, done.running_slot) == ("passed", "model-1", "Gate: PASSED", None)
        assert done.steps == [{"text": "training", "at": "x"}] and done.finished_at is not None
        # A finished run takes no more progress.
        await store.record_progress(session, first, utcnow(), output="late")
        assert (await store.get_run(session, first)).output == "Epochs: 100%"
        assert [r.id for r in await store.recent_runs(session, 5)] == [second, first]
    with pytest.raises(ValueError):
        async with db.session() as session:
            await store.finish_run(session, second, "running", utcnow())


async def test_a_run_without_heartbeats_is_lost_and_another_may_start(db):
    long_ago = utcnow() - timedelta(minutes=5)
    dead = await start(db, "tess", now=long_ago)
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            await store.start_run(session, "sam", True, utcnow())
    fresh = await start(db, "sam")
    async with db.session() as session:
        lost = await store.get_run(session, dead)
        assert lost.status == "lost" and "stopped" in lost.error
        assert await store.running_run_id(session) == fresh


async def test_the_migrations_build_the_models_schema(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.storage.models import Base

    def differences(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with db.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
