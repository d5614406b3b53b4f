"""The few statements that differ between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignoring_conflicts(session: AsyncSession, table, values: list[dict]):
    """INSERT ... ON CONFLICT DO NOTHING: a redelivered webhook is not an error."""
    if session.bind.dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    return sqlite.insert(table).values(values).on_conflict_do_nothing()


def lock_skipping(session: AsyncSession, statement):
    """FOR UPDATE SKIP LOCKED where the database has row locks; SQLite serialises writers."""
    if session.bind.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement
