"""The JSON the console's pages render: the queue snapshot and a conversation's record.

One shape for the API and the live WebSocket, so a page draws the same thing whether it
fetched it or was pushed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.handoff import aged_priority
from bot.storage.console import ConversationRecord
from bot.storage.models import Message
from bot.storage.queue import QueueEntry, QueuePage


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def sentiment_label(score: float | None) -> str:
    if score is None:
        return "unknown"
    if score <= -0.5:
        return "very negative"
    if score < -0.05:
        return "negative"
    if score > 0.05:
        return "positive"
    return "neutral"


def entry_json(entry: QueueEntry, now: datetime) -> dict[str, Any]:
    waited = (now - entry.queued_at).total_seconds() if entry.queued_at else 0.0
    return {
        "id": entry.conversation_id, "channel": entry.channel, "customer": entry.customer,
        "status": entry.status, "reason": entry.reason, "priority": aged_priority(entry.priority, waited),
        "base_priority": entry.priority, "public": entry.is_public, "sentiment": entry.sentiment,
        "sentiment_label": sentiment_label(entry.sentiment), "queued_at": _iso(entry.queued_at),
        "agent": entry.assigned_agent, "last_message": entry.last_message[:300],
        "language": entry.language,
    }


def queue_snapshot(page: QueuePage, now: datetime, offset: int = 0) -> dict[str, Any]:
    """A page of waiting conversations by (aged) priority, then longest wait, with how many
    wait in all and beyond this page; the agent's own; the rest."""
    waiting = sorted((entry_json(e, now) for e in page.waiting),
                     key=lambda r: (-r["priority"], r["queued_at"] or "", r["id"]))
    others = [entry_json(e, now) for e in page.others]
    return {
        "type": "queue", "now": now.isoformat(), "waiting": waiting,
        "waiting_total": page.waiting_total, "offset": offset,
        "waiting_more": max(page.waiting_total - offset - len(waiting), 0),
        "mine": [entry_json(e, now) for e in page.mine],
        "others": others, "others_total": page.others_total,
        "others_more": max(page.others_total - len(others), 0),
    }


def message_json(message: Message) -> dict[str, Any]:
    data = message.data or {}
    return {
        "id": message.id, "direction": message.direction, "author": message.author, "text": message.text,
        "agent_name": message.agent_name, "intent": message.intent, "confidence": message.confidence,
        "sentiment": message.sentiment, "delivery_status": message.delivery_status, "error": message.error,
        "buttons": data.get("buttons") or [], "public": bool(data.get("is_public")),
        "attachments": data.get("attachments") or [], "metadata": data.get("metadata"),
        "created_at": message.created_at.isoformat(),
    }


def record_json(record: ConversationRecord, viewer: str, reply_notice: str | None = None) -> dict[str, Any]:
    conversation, customer = record.conversation, record.customer
    return {
        "type": "conversation",
        "conversation": {
            "id": conversation.id, "channel": conversation.channel, "status": conversation.status,
            "reason": conversation.handoff_reason, "priority": conversation.priority,
            "public": conversation.is_public, "sentiment": conversation.sentiment, "language": conversation.language,
            "sentiment_label": sentiment_label(conversation.sentiment), "agent": conversation.assigned_agent,
            "queued_at": _iso(conversation.queued_at), "created_at": conversation.created_at.isoformat(),
            "mine": conversation.status == "assigned" and conversation.assigned_agent == viewer,
            # Why a reply cannot reach this customer, shown beside the reply box; None: it can.
            "reply_notice": reply_notice,
        },
        "customer": {"id": customer.external_id, "name": customer.display_name or customer.external_id,
                     "channel": customer.channel, "since": customer.created_at.isoformat()},
        "messages": [message_json(m) for m in record.messages],
        # NLU results are on the messages; the rest of the story is told by the events.
        "events": [{"id": e.id, "kind": e.kind, "data": e.data, "created_at": e.created_at.isoformat()}
                   for e in record.events if e.kind != "nlu"],
        "notes": [{"id": n.id, "author": n.author, "text": n.text, "created_at": n.created_at.isoformat()}
                  for n in record.notes],
        "earlier": [{"id": c.id, "status": c.status, "reason": c.handoff_reason,
                     "created_at": c.created_at.isoformat()} for c in record.earlier],
        "satisfaction": record.satisfaction.score if record.satisfaction else None,
    }
