"""The state of the whole service for a metrics scrape: a few indexed queries.

Read at scrape time, so every web process answers alike, whatever process did the work.
Each query reads only the rows still in play (the inbox's backlog, the outbox's unsent
and failed replies, the waiting queue, live sessions) through an index whose first
column is the status, never the history: a scrape costs the same with a year of messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.inbox import UNFINISHED
from bot.storage.models import Agent, ConsoleSession, Conversation, InboxItem, OutboxItem, TrainingRun

# The queue's priority bands, from the priority rule (bot/handoff.py): a public post starts
# at 100, strongly negative at 50, a complaint or mild displeasure at 20 or more.
PRIORITY_BANDS = (("public", 100), ("high", 50), ("raised", 20), ("normal", None))
OUTBOX_STATES = ("pending", "sending", "failed")
TRAINING_OUTCOMES = ("running", "passed", "refused", "failed", "lost")


@dataclass(frozen=True)
class ServiceState:
    inbox_backlog: dict[str, int]  # pending / processing
    inbox_oldest_age: float  # seconds; 0 with no backlog
    outbox: dict[str, int]  # pending / sending / failed
    outbox_retrying: int  # pending replies that failed before and wait for another try
    queue_waiting: dict[str, int]  # by priority band
    queue_oldest_wait: float  # seconds; 0 with nobody waiting
    agents_online: dict[str, int]  # by role
    training_runs: dict[str, int]  # by outcome


def _band():
    whens = [(Conversation.priority >= floor, name) for name, floor in PRIORITY_BANDS if floor is not None]
    return case(*whens, else_=PRIORITY_BANDS[-1][0])


def _age(now: datetime, then: datetime | None) -> float:
    return max((now - then).total_seconds(), 0.0) if then is not None else 0.0


async def read_state(session: AsyncSession, now: datetime) -> ServiceState:
    # The oldest unfinished message is the one with the lowest id (ids follow acceptance):
    # found in the (status, id) index, then its one row read, rather than every row of a
    # long backlog.
    backlog = (await session.execute(
        select(InboxItem.status, func.count(), func.min(InboxItem.id))
        .where(InboxItem.status.in_(UNFINISHED)).group_by(InboxItem.status))).all()
    oldest_id = min((row[2] for row in backlog), default=None)
    oldest = None
    if oldest_id is not None:
        oldest = (await session.execute(select(InboxItem.received_at).where(InboxItem.id == oldest_id))).scalar()

    outbox_rows = (await session.execute(
        select(OutboxItem.status, func.count(), func.sum(case((OutboxItem.attempts > 0, 1), else_=0)))
        .where(OutboxItem.status.in_(OUTBOX_STATES)).group_by(OutboxItem.status))).all()
    outbox = {**dict.fromkeys(OUTBOX_STATES, 0), **{status: count for status, count, _ in outbox_rows}}
    retrying = sum(int(tried or 0) for status, _, tried in outbox_rows if status == "pending")

    # Grouped by the output column's name: the expression's bound values would not match.
    band = _band().label("band")
    queue_rows = (await session.execute(
        select(band, func.count(), func.min(Conversation.queued_at))
        .where(Conversation.status == "queued").group_by("band"))).all()
    queue = dict.fromkeys((name for name, _ in PRIORITY_BANDS), 0)
    queue.update({name: count for name, count, _ in queue_rows})
    longest = min((row[2] for row in queue_rows if row[2] is not None), default=None)

    agents = (await session.execute(
        select(Agent.role, func.count(func.distinct(ConsoleSession.agent_name)))
        .join(Agent, Agent.name == ConsoleSession.agent_name)
        .where(ConsoleSession.expires_at > now, Agent.active.is_(True)).group_by(Agent.role))).all()

    runs = dict.fromkeys(TRAINING_OUTCOMES, 0)
    runs.update((status, count) for status, count in (await session.execute(
        select(TrainingRun.status, func.count()).group_by(TrainingRun.status))).all())

    return ServiceState(
        inbox_backlog={**dict.fromkeys(UNFINISHED, 0), **{status: count for status, count, _ in backlog}},
        inbox_oldest_age=_age(now, oldest), outbox=outbox, outbox_retrying=retrying,
        queue_waiting=queue, queue_oldest_wait=_age(now, longest),
        agents_online={role: count for role, count in agents}, training_runs=runs)
