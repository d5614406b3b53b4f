"""Queries of the console's accounts and server-side sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.auth import Account
from bot.storage.dialect import insert_ignoring_conflicts
from bot.storage.models import Agent, ConsoleKey, ConsoleSession


class AccountExists(ValueError):
    pass


async def add_agent(session: AsyncSession, name: str, role: str, password_hash: str, now: datetime, *,
                    must_change_password: bool = False, display_name: str | None = None) -> Agent:
    if await get_agent(session, name) is not None:
        raise AccountExists(f"an account named {name!r} already exists")
    agent = Agent(name=name, role=role, password_hash=password_hash, active=True, failed_logins=0, created_at=now,
                  must_change_password=must_change_password, display_name=display_name)
    session.add(agent)
    await session.flush()
    return agent


async def get_agent(session: AsyncSession, name: str) -> Agent | None:
    return (await session.execute(select(Agent).where(Agent.name == name))).scalar_one_or_none()


async def shown_names(session: AsyncSession, names: Iterable[str | None]) -> dict[str, str]:
    """What customers see for each of these login names: the account's display name, or
    the login name itself when it has none (or no account goes by it any more)."""
    wanted = {name for name in names if name}
    if not wanted:
        return {}
    found = dict((await session.execute(
        select(Agent.name, Agent.display_name).where(Agent.name.in_(wanted)))).all())
    return {name: found.get(name) or name for name in wanted}


async def shown_name(session: AsyncSession, name: str | None) -> str | None:
    return (await shown_names(session, [name])).get(name) if name else None


def account_of(agent: Agent) -> Account:
    return Account(agent.name, agent.role, agent.password_hash, agent.active, agent.must_change_password)


async def list_agents(session: AsyncSession) -> list[Agent]:
    return list((await session.execute(select(Agent).order_by(Agent.name))).scalars())


async def has_admin(session: AsyncSession) -> bool:
    count = (await session.execute(
        select(func.count()).select_from(Agent).where(Agent.role == "admin", Agent.active.is_(True))
    )).scalar_one()
    return count > 0


async def console_key(session: AsyncSession, name: str, make: Callable[[], str]) -> str:
    """The shared secret `name`, made by whichever process needs it first."""
    await session.execute(insert_ignoring_conflicts(session, ConsoleKey.__table__, [{"name": name, "value": make()}]))
    return (await session.execute(select(ConsoleKey.value).where(ConsoleKey.name == name))).scalar_one()


async def session_exists(session: AsyncSession, key_hash: str, now: datetime) -> bool:
    found = await session.execute(select(ConsoleSession.key_hash).where(
        ConsoleSession.key_hash == key_hash, ConsoleSession.expires_at > now))
    return found.first() is not None


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
    """Log an agent out everywhere (password changed, account disabled); the caller
    announces it (bot/console/sessions.py, announce_ended) so open WebSockets close."""
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.agent_name == name))
    return result.rowcount or 0
