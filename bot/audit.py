"""The audit trail: who read or changed customer data or the service, and when.

One function, `record`, in the caller's transaction, so an action and its record are
kept or lost together. Targets are ids and details are counts, names and flags: never a
customer's text, name or platform id (an erased customer leaves only their counts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import Database
from bot.storage.models import AuditEntry

# Console accounts' names are actors; these are the others.
CLI = "cli"
RETENTION = "retention"


async def record(session: AsyncSession, actor: str, action: str, target: str | None, now: datetime,
                 **details: Any) -> None:
    session.add(AuditEntry(at=now, actor=actor[:64], action=action, target=target, details=details))


async def record_in(db: Database, actor: str, action: str, target: str | None, now: datetime, **details: Any) -> None:
    """`record` in a transaction of its own, for reads (opening a conversation, a sign-in)."""
    async with db.session() as session:
        await record(session, actor, action, target, now, **details)


def record_from_cli(database_url: str, action: str, target: str | None, **details: Any) -> None:
    """For commands that otherwise need no database (the model registry is files): the
    entry is written if the database can be reached, and said to be missing if not."""
    import asyncio
    import logging

    from bot.messages import utcnow

    async def write() -> None:
        db = Database(database_url)
        try:
            await record_in(db, CLI, action, target, utcnow(), **details)
        finally:
            await db.close()

    try:
        asyncio.run(write())
    except Exception as error:  # the command itself has succeeded; the trail is told it is short
        logging.getLogger(__name__).warning("not recorded in the audit trail (%s): %s", action, error)
