"""Queries of the outbox: replies committed before they are sent, retried until delivered."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.messages import OutgoingMessage
from bot.storage.models import Message, OutboxItem


async def enqueue(session: AsyncSession, message: Message, outgoing: OutgoingMessage, now: datetime,
                  accepted_at: datetime | None = None) -> OutboxItem:
    item = OutboxItem(**_row(message.id, message.conversation_id, outgoing, now, accepted_at))
    session.add(item)
    await session.flush()
    return item


async def enqueue_replies(session: AsyncSession, conversation_id: int,
                          replies: list[tuple[int, OutgoingMessage]], now: datetime,
                          accepted_at: datetime | None = None) -> None:
    """`enqueue` for the dialogue worker's replies (message id, reply), in one statement;
    `accepted_at` (of the customer message answered) goes on the first."""
    if replies:
        await session.execute(OutboxItem.__table__.insert(), [
            _row(message_id, conversation_id, outgoing, now, accepted_at if n == 0 else None)
            for n, (message_id, outgoing) in enumerate(replies)])


def _row(message_id: int, conversation_id: int, outgoing: OutgoingMessage, now: datetime,
         accepted_at: datetime | None = None) -> dict:
    return dict(message_id=message_id, conversation_id=conversation_id, channel=outgoing.channel,
                payload=outgoing.to_json(), status="pending", attempts=0, next_attempt_at=now,
                idempotency_key=uuid.uuid4().hex, created_at=now, accepted_at=accepted_at)


def _claim_statements():
    """The claim's statements, built once with their values as parameters: building them
    (and the alias, a copy of every column) on every send cost more CPU than running them."""
    earlier = aliased(OutboxItem)
    now = bindparam("now", type_=OutboxItem.__table__.c.next_attempt_at.type)
    claimable = or_(
        and_(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now),
        and_(OutboxItem.status == "sending", OutboxItem.lease_until < now),
    )
    blocked = exists().where(
        earlier.conversation_id == OutboxItem.conversation_id,
        earlier.id < OutboxItem.id,
        earlier.status.in_(("pending", "sending")),
    )
    candidates = (select(OutboxItem.id, OutboxItem.status).where(claimable, ~blocked)
                  .order_by(OutboxItem.id).limit(bindparam("limit")))
    # Each candidate is taken by a conditional update: of two senders that read it, exactly
    # one sees rowcount 1. On PostgreSQL the rows another sender is taking are skipped.
    claim_one = (
        update(OutboxItem)
        .where(OutboxItem.id == bindparam("candidate_id"), OutboxItem.status == bindparam("candidate_status"),
               claimable)
        .values(status="sending", lease_until=bindparam("claimed_until", type_=OutboxItem.__table__.c.lease_until.type),
                attempts=OutboxItem.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    claimed = (select(OutboxItem).where(OutboxItem.id.in_(bindparam("ids", expanding=True)))
               .order_by(OutboxItem.id).execution_options(populate_existing=True))
    return candidates, candidates.with_for_update(skip_locked=True), claim_one, claimed


_CANDIDATES, _CANDIDATES_LOCKED, _CLAIM_ONE, _CLAIMED = _claim_statements()


async def claim_due(session: AsyncSession, now: datetime, lease_seconds: float, limit: int) -> list[OutboxItem]:
    """Claim due sends, at most one per conversation, each the oldest unsent of its conversation.

    A conversation's replies leave in the order they were written: a later reply waits
    while an earlier one is still being retried.
    """
    values = {"now": now, "limit": limit, "claimed_until": now + timedelta(seconds=lease_seconds)}
    candidates = _CANDIDATES_LOCKED if session.bind.dialect.name == "postgresql" else _CANDIDATES
    claimed_ids = []
    for candidate in (await session.execute(candidates, values)).all():
        taken = await session.execute(_CLAIM_ONE, {**values, "candidate_id": candidate.id,
                                                   "candidate_status": candidate.status})
        if taken.rowcount == 1:
            claimed_ids.append(candidate.id)
    if not claimed_ids:
        return []
    return list((await session.execute(_CLAIMED, {"ids": claimed_ids})).scalars())


async def mark_sent(session: AsyncSession, item: OutboxItem, platform_message_id: str | None, now: datetime) -> None:
    await session.execute(
        update(OutboxItem).where(OutboxItem.id == item.id)
        .values(status="sent", sent_at=now, lease_until=None, platform_message_id=platform_message_id, error=None)
    )
    await session.execute(
        update(Message).where(Message.id == item.message_id)
        .values(delivery_status="sent", platform_message_id=platform_message_id, error=None)
    )


async def schedule_retry(session: AsyncSession, item: OutboxItem, error: str, at: datetime,
                         parts_sent: int | None = None) -> None:
    """Try again at `at`; `parts_sent` keeps how far a reply of several parts got, so the
    next attempt resumes after the delivered parts."""
    await session.execute(
        update(OutboxItem).where(OutboxItem.id == item.id)
        .values(status="pending", next_attempt_at=at, lease_until=None, error=error,
                **_progress(item, parts_sent))
    )
    await session.execute(update(Message).where(Message.id == item.message_id).values(error=error))


async def mark_failed(session: AsyncSession, item: OutboxItem, error: str, parts_sent: int | None = None) -> None:
    await session.execute(
        update(OutboxItem).where(OutboxItem.id == item.id)
        .values(status="failed", lease_until=None, error=error, **_progress(item, parts_sent))
    )
    await session.execute(
        update(Message).where(Message.id == item.message_id).values(delivery_status="failed", error=error)
    )


async def next_due_at(session: AsyncSession) -> datetime | None:
    from sqlalchemy import func

    return (await session.execute(
        select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.status == "pending")
    )).scalar_one()


async def customer_last_seen(session: AsyncSession, conversation_ids: set[int]) -> dict[int, datetime | None]:
    from bot.storage.models import Conversation

    rows = await session.execute(
        select(Conversation.id, Conversation.last_customer_message_at).where(Conversation.id.in_(conversation_ids))
    )
    return dict(rows.all())


def _progress(item: OutboxItem, parts_sent: int | None) -> dict[str, int]:
    # Progress only moves forward: a channel that does not count parts answers None.
    return {"parts_sent": parts_sent} if parts_sent is not None and parts_sent > item.parts_sent else {}


async def private_replies(session: AsyncSession, conversation_id: int) -> set[str]:
    """The comments of a conversation that have their one private reply: sent, or on its
    way (a failed one was refused, so it did not use it)."""
    rows = await session.execute(
        select(OutboxItem.payload).where(OutboxItem.conversation_id == conversation_id,
                                         OutboxItem.status != "failed")
    )
    return {str(payload["thread_id"]) for payload in rows.scalars()
            if (payload.get("custom") or {}).get("private_reply") and payload.get("thread_id")}
