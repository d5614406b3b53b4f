"""Exporting the history: one customer's full record, or everything in a date range.

Records are streamed from the database (server-side cursors on PostgreSQL, `yield_per`)
and written as they come, so a history of millions of messages is exported in bounded
memory. Each record is a flat dict with a `type`: conversation, message, event, note or
rating; JSON Lines writes them as they are, CSV as rows of one shared set of columns.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Conversation, ConversationEvent, Customer, Message, Note, Satisfaction

BATCH = 1000
CSV_COLUMNS = ("type", "id", "conversation_id", "created_at", "channel", "customer", "customer_name", "status",
               "handoff_reason", "direction", "author", "agent_name", "text", "intent", "confidence",
               "sentiment", "delivery_status", "kind", "score", "data")


@dataclass(frozen=True)
class Selection:
    """One customer (channel and sender), or a date range, or both."""

    channel: str | None = None
    sender: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    conversation_ids: tuple[int, ...] | None = None


def _in_range(column, selection: Selection) -> list:
    clauses = []
    if selection.since is not None:
        clauses.append(column >= selection.since)
    if selection.until is not None:
        clauses.append(column < selection.until)
    return clauses


async def customer_conversations(session: AsyncSession, channel: str, sender: str) -> tuple[int, ...]:
    return tuple((await session.execute(
        select(Conversation.id).join(Customer, Customer.id == Conversation.customer_id)
        .where(Customer.channel == channel, Customer.external_id == sender).order_by(Conversation.id))).scalars())


async def records(session: AsyncSession, selection: Selection) -> AsyncIterator[dict[str, Any]]:
    """Every record of the selection: its conversations, then their messages, events,
    notes and ratings, each kind in id order."""
    ids = selection.conversation_ids
    if ids is None and selection.sender is not None:
        ids = await customer_conversations(session, selection.channel or "", selection.sender)

    def scoped(statement, table):
        if ids is not None:
            statement = statement.where(table.conversation_id.in_(ids))
        return statement.where(*_in_range(table.created_at, selection))

    conversations = (select(Conversation.__table__, Customer.external_id.label("customer"),
                            Customer.display_name.label("customer_name"))
                     .join(Customer, Customer.id == Conversation.customer_id)
                     .where(*_in_range(Conversation.created_at, selection)).order_by(Conversation.id))
    if ids is not None:
        conversations = conversations.where(Conversation.id.in_(ids))
    async for conversation in _stream(session, conversations):
        yield {"type": "conversation", "id": conversation.id, "created_at": _iso(conversation.created_at),
               "channel": conversation.channel, "customer": conversation.customer,
               "customer_name": conversation.customer_name, "status": conversation.status,
               "handoff_reason": conversation.handoff_reason, "sentiment": conversation.sentiment,
               "data": {"priority": conversation.priority, "is_public": conversation.is_public,
                        "assigned_agent": conversation.assigned_agent,
                        "closed_at": _iso(conversation.closed_at)}}
    async for m in _stream(session, scoped(select(Message.__table__), Message).order_by(Message.id)):
        yield {"type": "message", "id": m.id, "conversation_id": m.conversation_id,
               "created_at": _iso(m.created_at), "direction": m.direction, "author": m.author,
               "agent_name": m.agent_name, "text": m.text, "intent": m.intent, "confidence": m.confidence,
               "sentiment": m.sentiment, "delivery_status": m.delivery_status,
               "data": {"entities": m.entities, **(m.data or {})}}
    async for e in _stream(session, scoped(select(ConversationEvent.__table__), ConversationEvent)
                              .order_by(ConversationEvent.id)):
        yield {"type": "event", "id": e.id, "conversation_id": e.conversation_id, "created_at": _iso(e.created_at),
               "kind": e.kind, "data": e.data}
    async for n in _stream(session, scoped(select(Note.__table__), Note).order_by(Note.id)):
        yield {"type": "note", "id": n.id, "conversation_id": n.conversation_id, "created_at": _iso(n.created_at),
               "agent_name": n.author, "text": n.text}
    async for r in _stream(session, scoped(select(Satisfaction.__table__), Satisfaction).order_by(Satisfaction.id)):
        yield {"type": "rating", "id": r.id, "conversation_id": r.conversation_id, "created_at": _iso(r.created_at),
               "agent_name": r.agent_name, "score": r.score}


async def _stream(session: AsyncSession, statement) -> AsyncIterator[Any]:
    # Plain rows, not ORM objects, so the session keeps none of them; fetched a batch at
    # a time from a server-side cursor.
    result = await session.stream(statement.execution_options(yield_per=BATCH, stream_results=True))
    async for row in result:
        yield row


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Writer:
    """JSON Lines or CSV, a record at a time."""

    def __init__(self, out: IO[str], fmt: str) -> None:
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"unknown format {fmt!r}: jsonl or csv")
        self.out, self.fmt = out, fmt
        self.counts: dict[str, int] = {}
        if fmt == "csv":
            self._csv = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
            self._csv.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        self.counts[record["type"]] = self.counts.get(record["type"], 0) + 1
        if self.fmt == "jsonl":
            self.out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            return
        row = {k: v for k, v in record.items() if k != "data"}
        if record.get("data") is not None:
            row["data"] = json.dumps(record["data"], ensure_ascii=False, default=str)
        self._csv.writerow(row)


async def customer_record(session: AsyncSession, conversation_ids: Sequence[int]) -> dict[str, Any]:
    """One customer's full record as one JSON document (the console's download)."""
    grouped: dict[str, list[dict[str, Any]]] = {"conversations": [], "messages": [], "events": [], "notes": [],
                                                "ratings": []}
    plural = {"conversation": "conversations", "message": "messages", "event": "events", "note": "notes",
              "rating": "ratings"}
    async for record in records(session, Selection(conversation_ids=tuple(conversation_ids))):
        grouped[plural[record.pop("type")]].append(record)
    return grouped
