"""The history and the work queues, as SQLAlchemy tables.

Vocabulary: a Customer writes on a channel; their messages form a Conversation that the
bot or a human owns; every Message and every ConversationEvent is kept. The inbox and
outbox are the durable queues between the webhook, the dialogue engine and the senders.
Rasa's own tracker lives beside these in its `events` table, hence `conversation_events`.
"""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored; use bot.messages.utcnow()")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    external_id = Column(String(255), nullable=False)
    display_name = Column(String(255))
    created_at = Column(UtcDateTime, nullable=False)
    # Where the customer writes privately from, when not `external_id`: Meta's PSID of a
    # commenter, learnt from the answer to the private reply to their comment.
    messaging_id = Column(String(255))
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_customer_channel_id"),
                      Index("ix_customers_messaging_id", "channel", "messaging_id"))


class Conversation(Base):
    __tablename__ = "conversations"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    # bot -> queued -> assigned -> (bot | closed); see bot/handoff.py
    status = Column(String(16), nullable=False, default="bot")
    handoff_reason = Column(String(64))
    priority = Column(Integer, nullable=False, default=0)
    is_public = Column(Boolean, nullable=False, default=False)
    sentiment = Column(Float)
    assigned_agent = Column(String(255))
    created_at = Column(UtcDateTime, nullable=False)
    updated_at = Column(UtcDateTime, nullable=False)
    last_message_at = Column(UtcDateTime, nullable=False)
    last_customer_message_at = Column(UtcDateTime)
    queued_at = Column(UtcDateTime)
    assigned_at = Column(UtcDateTime)
    closed_at = Column(UtcDateTime)
    # Matches the queue's order (most urgent, then longest waiting) so taking the next
    # conversation reads one index entry, however long the queue.
    __table_args__ = (Index("ix_conversations_queue", "status", priority.desc(), "queued_at", "id"),)


class Message(Base):
    __tablename__ = "messages"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False)
    direction = Column(String(8), nullable=False)  # in | out
    author = Column(String(16), nullable=False)  # customer | bot | agent | system
    text = Column(Text, nullable=False, default="")
    data = Column(JSON, nullable=False, default=dict)  # buttons, image, attachments, custom
    platform_message_id = Column(String(255))
    client_id = Column(String(255))
    inbox_id = Column(Integer, ForeignKey("inbox.id"))
    intent = Column(String(128))
    confidence = Column(Float)
    entities = Column(JSON)
    sentiment = Column(Float)
    agent_name = Column(String(255))
    delivery_status = Column(String(16))  # pending | sent | delivered | read | failed
    error = Column(Text)
    created_at = Column(UtcDateTime, nullable=False)
    # A customer's post others can read (a comment, a mention): what the reputation watch
    # (bot/reputation/) counts, read through the index below without decoding `data`.
    is_public = Column(Boolean)
    # "spam" or "abuse" when moderation flagged the post (bot/moderation.py).
    moderation = Column(String(16))
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_inbox", "inbox_id"),
        Index("ix_messages_platform_id", "platform_message_id"),
        Index("ix_messages_public", "is_public", "created_at"),
    )


class ConversationEvent(Base):
    __tablename__ = "conversation_events"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False)
    kind = Column(String(32), nullable=False)
    data = Column(JSON, nullable=False, default=dict)
    created_at = Column(UtcDateTime, nullable=False)
    __table_args__ = (Index("ix_conversation_events_conversation", "conversation_id", "id"),)


class InboxItem(Base):
    __tablename__ = "inbox"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    platform_message_id = Column(String(255), nullable=False)
    conversation_key = Column(String(300), nullable=False)
    payload = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False, default="pending")  # pending|processing|done|failed
    attempts = Column(Integer, nullable=False, default=0)
    lease_until = Column(UtcDateTime)
    error = Column(Text)
    received_at = Column(UtcDateTime, nullable=False)
    processed_at = Column(UtcDateTime)
    __table_args__ = (
        UniqueConstraint("channel", "platform_message_id", name="uq_inbox_channel_message"),
        Index("ix_inbox_status", "status", "id"),
        Index("ix_inbox_conversation", "conversation_key", "id"),
    )


class OutboxItem(Base):
    __tablename__ = "outbox"
    id = Column(Integer, primary_key=True)
    message_id = Column(Integer, ForeignKey("messages.id"), nullable=False)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False)
    channel = Column(String(32), nullable=False)
    payload = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False, default="pending")  # pending|sending|sent|failed
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UtcDateTime, nullable=False)
    lease_until = Column(UtcDateTime)
    # Sent with the request where the platform deduplicates retried sends.
    idempotency_key = Column(String(64), nullable=False)
    platform_message_id = Column(String(255))
    error = Column(Text)
    created_at = Column(UtcDateTime, nullable=False)
    sent_at = Column(UtcDateTime)
    # Parts of a reply sent in several calls that are delivered: a retry resumes after them.
    parts_sent = Column(Integer, nullable=False, default=0, server_default="0")
    __table_args__ = (
        Index("ix_outbox_status", "status", "next_attempt_at"),
        Index("ix_outbox_conversation", "conversation_id", "id"),
    )


class Order(Base):
    """The demo brand's orders, looked up by the order-status custom action."""

    __tablename__ = "orders"
    number = Column(String(32), primary_key=True)
    status = Column(String(32), nullable=False)
    carrier = Column(String(64))
    tracking_code = Column(String(64))
    expected_delivery = Column(Date)
    items = Column(Text, nullable=False, default="")


class Agent(Base):
    """A person who logs in to the console (bot/console/)."""

    __tablename__ = "agents"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    role = Column(String(16), nullable=False)  # agent | supervisor | trainer | admin
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UtcDateTime)
    created_at = Column(UtcDateTime, nullable=False)
    last_login_at = Column(UtcDateTime)


class ConsoleSession(Base):
    """Server-side console sessions: any web process can serve any agent."""

    __tablename__ = "console_sessions"
    # SHA-256 of the cookie's key: a copy of the table does not log anyone in.
    key_hash = Column(String(64), primary_key=True)
    data = Column(JSON, nullable=False, default=dict)
    agent_name = Column(String(64), index=True)
    expires_at = Column(UtcDateTime, nullable=False, index=True)


class CannedResponse(Base):
    __tablename__ = "canned_responses"
    id = Column(Integer, primary_key=True)
    shortcut = Column(String(64), nullable=False, unique=True)
    text = Column(Text, nullable=False)
    created_by = Column(String(64))
    created_at = Column(UtcDateTime, nullable=False)


class Note(Base):
    """A private note on a conversation, for agents only; never sent to the customer."""

    __tablename__ = "notes"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False, index=True)
    author = Column(String(64), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)


class Satisfaction(Base):
    __tablename__ = "satisfaction"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False, unique=True)
    score = Column(Integer, nullable=False)
    agent_name = Column(String(64))
    created_at = Column(UtcDateTime, nullable=False)


class TrainingRun(Base):
    """A `bot train` started from the console: its steps, progress and outcome, kept in the
    database so every web process can show it live and one run at a time is enforced."""

    __tablename__ = "training_runs"
    id = Column(Integer, primary_key=True)
    started_by = Column(String(64), nullable=False)
    activate = Column(Boolean, nullable=False, default=True)
    status = Column(String(16), nullable=False)  # running | passed | refused | failed | lost
    # 1 while running, NULL after: a unique column admits one running run at a time.
    running_slot = Column(Integer, unique=True)
    steps = Column(JSON, nullable=False, default=list)
    output = Column(Text, nullable=False, default="")
    progress_label = Column(String(64))
    progress_done = Column(Integer)
    progress_total = Column(Integer)
    version = Column(String(64))
    report = Column(Text)
    error = Column(Text)
    started_at = Column(UtcDateTime, nullable=False)
    heartbeat_at = Column(UtcDateTime, nullable=False)
    finished_at = Column(UtcDateTime)


class Alert(Base):
    """A reputation or queue alert (bot/reputation/): what was seen, the posts that made it,
    and its delivery to the alert webhook, retried until sent like an outbox item."""

    __tablename__ = "alerts"
    id = Column(Integer, primary_key=True)
    kind = Column(String(32), nullable=False)  # negative_spike | volume_spike | queue_overload
    # 1 while the alert lasts, NULL after: the unique key admits one active alert per kind,
    # so of two processes seeing the same spike, only one raises it.
    active_slot = Column(Integer)
    raised_at = Column(UtcDateTime, nullable=False)
    ended_at = Column(UtcDateTime)
    window_start = Column(UtcDateTime, nullable=False)
    window_end = Column(UtcDateTime, nullable=False)
    figures = Column(JSON, nullable=False, default=dict)
    posts = Column(JSON, nullable=False, default=list)
    summary = Column(Text, nullable=False)
    webhook_status = Column(String(16), nullable=False)  # pending | sending | sent | failed | off
    webhook_attempts = Column(Integer, nullable=False, default=0)
    webhook_next_at = Column(UtcDateTime)
    webhook_lease_until = Column(UtcDateTime)
    webhook_error = Column(Text)
    webhook_sent_at = Column(UtcDateTime)
    __table_args__ = (
        UniqueConstraint("kind", "active_slot", name="uq_alerts_active"),
        Index("ix_alerts_webhook", "webhook_status", "webhook_next_at"),
        Index("ix_alerts_raised", "raised_at"),
    )
