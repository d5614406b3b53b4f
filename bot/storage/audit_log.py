"""Queries of the audit trail (bot/audit.py writes it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditEntry

MAX_ROWS = 1000


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


async def entries(session: AsyncSession, where: AuditFilter) -> list[dict[str, Any]]:
    """The newest entries first, filtered."""
    statement = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if where.actor:
        statement = statement.where(AuditEntry.actor == where.actor)
    if where.action:
        statement = statement.where(AuditEntry.action == where.action)
    if where.target:
        statement = statement.where(AuditEntry.target == where.target)
    if where.since is not None:
        statement = statement.where(AuditEntry.at >= where.since)
    if where.until is not None:
        statement = statement.where(AuditEntry.at < where.until)
    rows = (await session.execute(statement.limit(max(1, min(where.limit, MAX_ROWS))))).scalars()
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
             "details": e.details} for e in rows]
