"""How many conversations each open-channel client address has put in the human queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AddressHandoff

WINDOW = timedelta(hours=1)
# The first key of PostgreSQL's two-key advisory locks taken here, so they cannot meet
# another part's locks on the same address hash.
LOCK_CLASS = 1405


async def take_slot(session: AsyncSession, address: str, conversation_id: int, limit: int,
                    now: datetime) -> bool:
    """Count a handoff from `address` if it has had fewer than `limit` in the last hour;
    False (nothing recorded) when it has had them all.

    The count and the insert must not interleave between workers, or two of them would
    both see room for one: on PostgreSQL an advisory lock per address, held until the
    transaction ends, serialises them; SQLite has one writer, so they are serial already.
    """
    address = address[:64]
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:class, hashtext(:address))"),
                              {"class": LOCK_CLASS, "address": address})
    since = now - WINDOW
    # The address's expired rows go first: the table holds about an hour's handoffs.
    await session.execute(delete(AddressHandoff).where(AddressHandoff.client_address == address,
                                                       AddressHandoff.created_at <= since))
    taken = (await session.execute(select(func.count()).select_from(AddressHandoff).where(
        AddressHandoff.client_address == address, AddressHandoff.created_at > since))).scalar_one()
    if taken >= limit:
        return False
    session.add(AddressHandoff(client_address=address, conversation_id=conversation_id, created_at=now))
    return True
