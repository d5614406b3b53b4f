"""Queries of the console's accounts and server-side sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.auth import Account
from bot.storage.models import Agent, ConsoleSession


class AccountExists(ValueError):
    pass


async def add_agent(session: AsyncSession, name: str, role: str, password_hash: str, now: datetime) -> Agent:
    if await get_agent(session, name) is not None:
        raise AccountExists(f"an account named {name!r} already exists")
    agent = Agent(name=name, role=role, password_hash=password_hash, active=True, failed_logins=0, created_at=now)
    session.add(agent)
    await session.flush()
    return agent


async def get_agent(session: AsyncSession, name: str, *, lock: bool = False) -> Agent | None:
    query = select(Agent).where(Agent.name == name)
    if lock and session.bind.dialect.name == "postgresql":
        # Concurrent wrong passwords each count: the failure counter is read under a lock.
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def account_of(agent: Agent) -> Account:
    return Account(agent.name, agent.role, agent.password_hash, agent.active, agent.failed_logins,
                   agent.locked_until)


async def list_agents(session: AsyncSession) -> list[Agent]:
    return list((await session.execute(select(Agent).order_by(Agent.name))).scalars())


async def has_admin(session: AsyncSession) -> bool:
    count = (await session.execute(
        select(func.count()).select_from(Agent).where(Agent.role == "admin", Agent.active.is_(True))
    )).scalar_one()
    return count > 0


async def load_session(session: AsyncSession, key_hash: str, now: datetime) -> dict[str, Any] | None:
    row = await session.get(ConsoleSession, key_hash)
    if row is None or row.expires_at <= now:
        return None
    return row.data


async def save_session(session: AsyncSession, key_hash: str, data: dict[str, Any], agent_name: str | None,
                       expires_at: datetime) -> None:
    row = await session.get(ConsoleSession, key_hash)
    if row is None:
        session.add(ConsoleSession(key_hash=key_hash, data=data, agent_name=agent_name, expires_at=expires_at))
    else:
        row.data, row.agent_name, row.expires_at = data, agent_name, expires_at


async def delete_session(session: AsyncSession, key_hash: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.key_hash == key_hash))


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    return result.rowcount or 0


async def end_sessions_of(session: AsyncSession, name: str) -> int:
    """Log an agent out everywhere (password changed, account disabled)."""
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.agent_name == name))
    return result.rowcount or 0
