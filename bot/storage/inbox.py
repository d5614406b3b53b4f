"""Queries of the inbox: accepted customer messages waiting for the dialogue worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.messages import IncomingMessage
from bot.storage.dialect import insert_ignoring_conflicts, insert_one_ignoring_conflicts
from bot.storage.models import InboxItem

UNFINISHED = ("pending", "processing")


@dataclass(frozen=True)
class Accepted:
    inbox_id: int
    duplicate: bool
    status: str


async def accept(session: AsyncSession, messages: list[IncomingMessage], now: datetime,
                 not_before: list[datetime | None] | None = None) -> list[Accepted]:
    """Store messages once each; a message seen before comes back marked duplicate.

    `not_before` (per message) defers one that is over its sender's rate: it is stored now
    and claimable from then on (a pending row's `lease_until` is its "not before").
    """
    if not messages:
        return []
    rows = [
        {
            "channel": m.channel,
            "platform_message_id": m.message_id,
            "conversation_key": m.conversation_key,
            "payload": m.to_json(),
            "status": "pending",
            "attempts": 0,
            "lease_until": not_before[n] if not_before else None,
            "received_at": now,
        }
        for n, m in enumerate(messages)
    ]
    # The rows stored now come with their ids; only a redelivery needs a look-up.
    new = await (_insert_one(session, rows[0]) if len(rows) == 1 else _insert_many(session, rows))
    accepted = []
    for message in messages:
        if (inbox_id := new.get((message.channel, message.message_id))) is not None:
            accepted.append(Accepted(inbox_id, duplicate=False, status="pending"))
            continue
        item = (
            await session.execute(
                select(InboxItem.id, InboxItem.received_at, InboxItem.status).where(
                    InboxItem.channel == message.channel,
                    InboxItem.platform_message_id == message.message_id,
                )
            )
        ).one()
        # Our own insert carries `now`; anything else was stored by an earlier delivery.
        accepted.append(Accepted(item.id, duplicate=item.received_at != now, status=item.status))
    return accepted


_INSERT_ONE = insert_one_ignoring_conflicts(InboxItem.__table__, (InboxItem.id,))


async def _insert_one(session: AsyncSession, row: dict) -> dict[tuple[str, str], int]:
    """Most deliveries carry one message: its insert is compiled once for all of them."""
    dialect = session.bind.dialect.name
    result = await session.execute(_INSERT_ONE[dialect], row)
    if dialect == "postgresql":
        ids = list(result.scalars())
    else:  # no RETURNING in SQLAlchemy 1.4's SQLite dialect, but the row id of the insert
        ids = [result.lastrowid] if result.rowcount == 1 else []
    return {(row["channel"], row["platform_message_id"]): inbox_id for inbox_id in ids}


async def _insert_many(session: AsyncSession, rows: list[dict]) -> dict[tuple[str, str], int]:
    statement = insert_ignoring_conflicts(session, InboxItem.__table__, rows)
    if session.bind.dialect.name != "postgresql":
        await session.execute(statement)
        return {}
    inserted = await session.execute(statement.returning(InboxItem.id, InboxItem.channel,
                                                         InboxItem.platform_message_id))
    return {(row.channel, row.platform_message_id): row.id for row in inserted}


def _claim_statements():
    """The claim's statements, built once with their values as parameters: building them
    on every claim cost more CPU than running them."""
    earlier = aliased(InboxItem)
    now = bindparam("now", type_=InboxItem.__table__.c.lease_until.type)
    claimable = or_(
        and_(InboxItem.status == "pending", or_(InboxItem.lease_until.is_(None), InboxItem.lease_until <= now)),
        and_(InboxItem.status == "processing", InboxItem.lease_until < now),
    )
    blocked = exists().where(
        earlier.conversation_key == InboxItem.conversation_key,
        earlier.id < InboxItem.id,
        earlier.status.in_(UNFINISHED),
    )
    candidates = select(InboxItem.id).where(claimable, ~blocked).order_by(InboxItem.id).limit(bindparam("limit"))
    until = bindparam("claimed_until", type_=InboxItem.__table__.c.lease_until.type)
    taken = dict(status="processing", lease_until=until, attempts=InboxItem.attempts + 1)
    # PostgreSQL: one statement. Rows another worker is claiming are skipped, not waited
    # for, and the claimed rows come back with the update.
    claim_locked = select(InboxItem).from_statement(
        update(InboxItem)
        .where(InboxItem.id.in_(candidates.with_for_update(skip_locked=True).scalar_subquery()))
        .values(**taken)
        .returning(*InboxItem.__table__.columns)
    ).execution_options(populate_existing=True)
    # SQLite serialises writers but a candidate read before the write lock may be gone by
    # then: each is claimed by a conditional update, and exactly one claimer sees rowcount 1.
    claim_one = (
        update(InboxItem)
        .where(InboxItem.id == bindparam("candidate_id"), claimable)
        .values(**taken)
        .execution_options(synchronize_session=False)
    )
    return candidates, claim_locked, claim_one


_CANDIDATES, _CLAIM_LOCKED, _CLAIM_ONE = _claim_statements()


async def claim(session: AsyncSession, now: datetime, lease_seconds: float, limit: int) -> list[InboxItem]:
    """Take up to `limit` of the oldest claimable messages whose conversations have nothing
    earlier unfinished, oldest first.

    Only the first unfinished message of a conversation is ever claimable, which keeps
    each conversation in order while different conversations run in parallel. A message
    whose lease ran out (its worker died) is claimable again.
    """
    values = {"now": now, "limit": limit, "claimed_until": now + timedelta(seconds=lease_seconds)}
    if session.bind.dialect.name == "postgresql":
        rows = (await session.execute(_CLAIM_LOCKED, values)).scalars().all()
        return sorted(rows, key=lambda item: item.id)
    claimed = []
    for candidate_id in (await session.execute(_CANDIDATES, values)).scalars().all():
        if (await session.execute(_CLAIM_ONE, {**values, "candidate_id": candidate_id})).rowcount == 1:
            claimed.append(candidate_id)
    if not claimed:
        return []
    return list((await session.execute(
        select(InboxItem).where(InboxItem.id.in_(claimed)).order_by(InboxItem.id)
        .execution_options(populate_existing=True))).scalars())


async def claim_next(session: AsyncSession, now: datetime, lease_seconds: float) -> InboxItem | None:
    """The oldest claimable message (see `claim`), or None."""
    claimed = await claim(session, now, lease_seconds, 1)
    return claimed[0] if claimed else None


class ClaimLost(Exception):
    """Another worker took this message over (our lease ran out): our work must not count."""


def _fenced(*columns: str):
    """An update of a claimed message that applies only while the claim is still ours,
    built once. `attempts` is the claim's fencing token: every claim increments it, so a
    worker whose lease ran out and was taken over no longer matches."""
    inbox = InboxItem.__table__
    return (inbox.update()
            .where(inbox.c.id == bindparam("item_id"), inbox.c.status == "processing",
                   inbox.c.attempts == bindparam("fence"))
            .values(**{column: bindparam(f"new_{column}", type_=inbox.c[column].type) for column in columns}))


_FINISH = _fenced("status", "processed_at", "lease_until", "error")
_RELEASE = _fenced("lease_until", "error")
_EXTEND = _fenced("lease_until")


def _ours(item: InboxItem, **values) -> dict:
    return {"item_id": item.id, "fence": item.attempts, **{f"new_{k}": v for k, v in values.items()}}


async def finish(session: AsyncSession, item: InboxItem, now: datetime, status: str = "done",
                 error: str | None = None) -> None:
    """Mark a claimed message finished, in the caller's transaction, only if still ours.

    Raises ClaimLost otherwise, which rolls back the whole transaction (its replies too):
    that is what keeps "answered exactly once" when a slow worker is taken over.
    """
    result = await session.execute(_FINISH, _ours(item, status=status, processed_at=now, lease_until=None,
                                                  error=error))
    if result.rowcount != 1:
        raise ClaimLost(f"inbox message {item.id} was taken over by another worker")


async def release(session: AsyncSession, item: InboxItem, error: str, retry_at: datetime) -> None:
    """Give a message back after a failure; it is retried when its short lease passes."""
    await session.execute(_RELEASE, _ours(item, lease_until=retry_at, error=error))


async def extend_lease(session: AsyncSession, item: InboxItem, until: datetime) -> bool:
    """Keep a claim alive while its message is being worked on; False if it was lost."""
    result = await session.execute(_EXTEND, _ours(item, lease_until=until))
    return result.rowcount == 1


async def reset_claims(session: AsyncSession) -> int:
    """At start-up of the single-process mode every claim is from a dead process."""
    result = await session.execute(
        update(InboxItem).where(InboxItem.status == "processing").values(status="pending", lease_until=None)
    )
    return result.rowcount


async def status_of(session: AsyncSession, inbox_id: int) -> str:
    return (await session.execute(select(InboxItem.status).where(InboxItem.id == inbox_id))).scalar_one()


async def count_unfinished(session: AsyncSession) -> int:
    from sqlalchemy import func

    return (await session.execute(
        select(func.count()).select_from(InboxItem).where(InboxItem.status.in_(UNFINISHED))
    )).scalar_one()
