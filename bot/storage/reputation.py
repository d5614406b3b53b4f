"""Queries of the reputation watch: customers' public posts over time, and the alerts with
their delivery to the alert webhook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.dialect import insert_ignoring_conflicts
from bot.storage.models import Alert, Conversation, Customer, InboxItem, Message

_PUBLIC = and_(Message.is_public.is_(True), Message.direction == "in")


@dataclass(frozen=True)
class PostRow:
    at: datetime
    customer_id: int
    sentiment: float | None
    moderation: str | None


async def public_posts(session: AsyncSession, since: datetime) -> list[PostRow]:
    """The customers' public posts stored since `since`: only what the detector counts.

    A post's time is when its webhook was accepted, not when a worker got to it: a storm
    that arrives in one minute counts in that minute even while the workers catch up."""
    rows = await session.execute(
        select(func.coalesce(InboxItem.received_at, Message.created_at), Conversation.customer_id,
               Message.sentiment, Message.moderation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(InboxItem, InboxItem.id == Message.inbox_id)
        .where(_PUBLIC, Message.created_at > since))
    return [PostRow(*row) for row in rows.all()]


@dataclass(frozen=True)
class PostDetail:
    message_id: int
    conversation_id: int
    channel: str
    author: str
    text: str
    sentiment: float | None
    at: datetime
    moderation: str | None

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "conversation_id": self.conversation_id, "channel": self.channel,
                "author": self.author, "text": self.text, "sentiment": self.sentiment, "at": self.at.isoformat(),
                "moderation": self.moderation}


async def negative_posts(session: AsyncSession, since: datetime, until: datetime, negative_score: float,
                         limit: int) -> list[PostDetail]:
    """The most negative public posts of a period, spam left out, most negative first."""
    rows = await session.execute(
        select(Message.id, Message.conversation_id, Conversation.channel,
               func.coalesce(Customer.display_name, Customer.external_id), Message.text, Message.sentiment,
               Message.created_at, Message.moderation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(_PUBLIC, Message.created_at > since, Message.created_at <= until,
               Message.sentiment <= negative_score, or_(Message.moderation.is_(None), Message.moderation != "spam"))
        .order_by(Message.sentiment.asc(), Message.id.desc()).limit(limit))
    return [PostDetail(*row) for row in rows.all()]


@dataclass(frozen=True)
class SeriesPoint:
    channel: str
    bucket: datetime
    volume: int
    negative: int
    mean: float | None


async def sentiment_series(session: AsyncSession, since: datetime, unit: str, negative_score: float) -> list[SeriesPoint]:
    """Public posts per channel and hour or day (UTC): volume, negative ones, mean compound
    score. Spam is left out: it says nothing about what customers think."""
    bucket = _truncated(session, unit)
    rows = await session.execute(
        select(Conversation.channel, bucket.label("bucket"), func.count(Message.id),
               func.sum(case((Message.sentiment <= negative_score, 1), else_=0)), func.avg(Message.sentiment))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(_PUBLIC, Message.created_at > since,
               or_(Message.moderation.is_(None), Message.moderation != "spam"))
        .group_by(Conversation.channel, bucket).order_by(bucket, Conversation.channel))
    fmt = "%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d"
    return [SeriesPoint(channel, datetime.strptime(key, fmt).replace(tzinfo=timezone.utc), int(volume),
                        int(negative or 0), round(float(mean), 4) if mean is not None else None)
            for channel, key, volume, negative, mean in rows.all()]


def _truncated(session: AsyncSession, unit: str):
    """The hour or day of a post as text, the same on both backends ("2026-12-04 15")."""
    if unit not in ("hour", "day"):
        raise ValueError(f"unit must be hour or day, not {unit!r}")
    if session.bind.dialect.name == "postgresql":
        # Constants in the SQL, not parameters: PostgreSQL matches GROUP BY to the select
        # list by their text, and two parameters are two different expressions to it.
        pattern = "'YYYY-MM-DD HH24'" if unit == "hour" else "'YYYY-MM-DD'"
        return func.to_char(func.timezone(literal_column("'UTC'"), Message.created_at), literal_column(pattern))
    # SQLite keeps UTC datetimes as ISO text: "2026-12-04 15:02:11.000000".
    return func.substr(Message.created_at, 1, literal_column("13" if unit == "hour" else "10"))


async def queue_load(session: AsyncSession) -> tuple[int, datetime | None]:
    """Conversations waiting for a person, and when the longest-waiting one was queued."""
    waiting, oldest = (await session.execute(
        select(func.count(Conversation.id), func.min(Conversation.queued_at)).where(Conversation.status == "queued")
    )).one()
    return int(waiting), oldest


# -- alerts -------------------------------------------------------------------------------

async def raise_alert(session: AsyncSession, *, kind: str, now: datetime, window_start: datetime,
                      window_end: datetime, figures: dict[str, Any], posts: list[dict[str, Any]], summary: str,
                      webhook: bool) -> Alert | None:
    """The alert, or None when one of this kind is already active (raised by this process
    or another one: the unique (kind, active_slot) key lets exactly one insert through)."""
    inserted = await session.execute(insert_ignoring_conflicts(session, Alert.__table__, [dict(
        kind=kind, active_slot=1, raised_at=now, window_start=window_start, window_end=window_end,
        figures=figures, posts=posts, summary=summary, webhook_status="pending" if webhook else "off",
        webhook_attempts=0, webhook_next_at=now if webhook else None)]))
    if inserted.rowcount != 1:
        return None
    return (await session.execute(select(Alert).where(Alert.kind == kind, Alert.active_slot == 1))).scalar_one()


async def active_alerts(session: AsyncSession) -> list[Alert]:
    return list((await session.execute(
        select(Alert).where(Alert.active_slot.is_not(None)).order_by(Alert.raised_at.desc(), Alert.id.desc())
    )).scalars())


async def end_alert(session: AsyncSession, alert_id: int, now: datetime) -> bool:
    ended = await session.execute(update(Alert).where(Alert.id == alert_id, Alert.active_slot.is_not(None))
                                  .values(active_slot=None, ended_at=now))
    return ended.rowcount == 1


async def recent_alerts(session: AsyncSession, limit: int = 20) -> list[Alert]:
    return list((await session.execute(
        select(Alert).order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit))).scalars())


async def claim_due_webhooks(session: AsyncSession, now: datetime, lease_seconds: float, limit: int = 8) -> list[Alert]:
    """Alerts whose webhook send is due, each taken by a conditional update (of two senders,
    one wins); a send whose lease ran out belongs to a process that died and is taken again."""
    claimable = or_(and_(Alert.webhook_status == "pending", Alert.webhook_next_at <= now),
                    and_(Alert.webhook_status == "sending", Alert.webhook_lease_until < now))
    candidates = (await session.execute(
        select(Alert.id).where(claimable).order_by(Alert.id).limit(limit))).scalars().all()
    claimed = []
    for alert_id in candidates:
        taken = await session.execute(
            update(Alert).where(Alert.id == alert_id, claimable)
            .values(webhook_status="sending", webhook_lease_until=now + timedelta(seconds=lease_seconds),
                    webhook_attempts=Alert.webhook_attempts + 1)
            .execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            claimed.append(alert_id)
    if not claimed:
        return []
    return list((await session.execute(
        select(Alert).where(Alert.id.in_(claimed)).order_by(Alert.id)
        .execution_options(populate_existing=True))).scalars())


async def webhook_sent(session: AsyncSession, alert_id: int, now: datetime) -> None:
    await session.execute(update(Alert).where(Alert.id == alert_id).values(
        webhook_status="sent", webhook_sent_at=now, webhook_lease_until=None, webhook_error=None))


async def webhook_retry(session: AsyncSession, alert_id: int, error: str, at: datetime) -> None:
    await session.execute(update(Alert).where(Alert.id == alert_id).values(
        webhook_status="pending", webhook_next_at=at, webhook_lease_until=None, webhook_error=error))


async def webhook_failed(session: AsyncSession, alert_id: int, error: str) -> None:
    await session.execute(update(Alert).where(Alert.id == alert_id).values(
        webhook_status="failed", webhook_lease_until=None, webhook_error=error))
