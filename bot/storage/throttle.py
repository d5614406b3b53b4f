"""Queries of login throttling (bot/console/throttle.py): count an attempt before the
password is checked, take it back when it was right."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.throttle import FORGET_AFTER, Backoff
from bot.storage.dialect import insert_ignoring_conflicts
from bot.storage.models import LoginThrottle


@dataclass(frozen=True)
class Attempt:
    """Counted (`wait` 0), or refused for `wait` more seconds."""

    wait: float


async def begin_attempt(session: AsyncSession, keys: list[tuple[str, Backoff]], now: datetime) -> Attempt:
    """Refuse while any key must wait; otherwise count the attempt as a failure on every key
    now, before the slow check, so a burst of parallel guesses cannot all slip past."""
    ordered = sorted(keys)  # the same lock order in every transaction
    await session.execute(insert_ignoring_conflicts(
        session, LoginThrottle.__table__,
        [{"key": key, "failures": 0, "last_failure_at": now} for key, _ in ordered]))
    query = select(LoginThrottle).where(LoginThrottle.key.in_([key for key, _ in ordered]))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {row.key: row for row in (await session.execute(query)).scalars()}
    wait = max(policy.wait(rows[key].failures, rows[key].last_failure_at, now) for key, policy in ordered)
    if wait > 0:
        return Attempt(wait)
    for key, policy in ordered:
        row = rows[key]
        if now - row.last_failure_at >= policy.forget_after:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
    return Attempt(0.0)


async def succeeded(session: AsyncSession, pair: str, address: str) -> None:
    """The password was right: the pair starts afresh, and the address gets its try back
    (not more: logging in to one's own account must not buy guesses at others)."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == pair))
    await session.execute(update(LoginThrottle).where(LoginThrottle.key == address, LoginThrottle.failures > 0)
                          .values(failures=LoginThrottle.failures - 1))


async def forget_old(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at <= now - FORGET_AFTER))
    return result.rowcount or 0
