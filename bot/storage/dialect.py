"""The few statements that differ between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignoring_conflicts(session: AsyncSession, table, values: list[dict]):
    """INSERT ... ON CONFLICT DO NOTHING: a redelivered webhook is not an error."""
    if session.bind.dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    return sqlite.insert(table).values(values).on_conflict_do_nothing()


def insert_one_ignoring_conflicts(table, returning: tuple = ()) -> dict:
    """The same for one row given as parameters, per dialect, built once: a statement with
    its values inline (as above) is compiled again on every call."""
    return {"postgresql": postgresql.insert(table).on_conflict_do_nothing().returning(*returning),
            "sqlite": sqlite.insert(table).on_conflict_do_nothing()}
