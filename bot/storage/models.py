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
    text as sql_text,
)
from sqlalchemy import false as sa_false
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

# The conversation events the reports read, and those that end a person's part in one.
REPORTED_EVENTS = "kind IN ('handoff', 'handback', 'resolved', 'satisfaction_asked')"
ENDING_EVENTS = "kind IN ('handback', 'resolved')"


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
    # The customer's language when it was told apart from the bot's (bot/language.py):
    # fixed messages are sent in it and the agent sees it. None: the bot's own language.
    language = Column(String(8))
    created_at = Column(UtcDateTime, nullable=False)
    updated_at = Column(UtcDateTime, nullable=False)
    last_message_at = Column(UtcDateTime, nullable=False)
    last_customer_message_at = Column(UtcDateTime)
    queued_at = Column(UtcDateTime)
    assigned_at = Column(UtcDateTime)
    closed_at = Column(UtcDateTime)
    # Matches the queue's order (most urgent, then longest waiting) so taking the next
    # conversation reads one index entry, however long the queue.
    __table_args__ = (Index("ix_conversations_queue", "status", priority.desc(), "queued_at", "id"),
                      # The reports take the conversations started in a period (bot/reports.py).
                      Index("ix_conversations_created", "created_at", postgresql_include=["channel"]))


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
        # The reports (bot/reports.py). Partial, so the messages the other kind of author
        # writes do not pay for them, and covering on PostgreSQL, so they are read from
        # the index alone: customers' messages of a period; the customer's message at a
        # hand-over; the first agent reply after it.
        Index("ix_messages_customer_created", "created_at", sqlite_where=sql_text("author = 'customer'"),
              postgresql_where=sql_text("author = 'customer'"),
              postgresql_include=["conversation_id", "intent", "confidence"]),
        Index("ix_messages_customer_conversation", "conversation_id", "created_at",
              sqlite_where=sql_text("author = 'customer'"), postgresql_where=sql_text("author = 'customer'"),
              postgresql_include=["intent"]),
        Index("ix_messages_agent", "conversation_id", "created_at", sqlite_where=sql_text("author = 'agent'"),
              postgresql_where=sql_text("author = 'agent'"), postgresql_include=["agent_name"]),
        Index("ix_messages_public", "is_public", "created_at"),
    )


class ConversationEvent(Base):
    __tablename__ = "conversation_events"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False)
    kind = Column(String(32), nullable=False)
    data = Column(JSON, nullable=False, default=dict)
    created_at = Column(UtcDateTime, nullable=False)
    __table_args__ = (
        Index("ix_conversation_events_conversation", "conversation_id", "id"),
        # The reports read the few events that change hands, never the per-message `nlu`
        # and `actions` ones, which are most of the table: partial indexes leave those out.
        Index("ix_conversation_events_reported", "kind", "created_at",
              sqlite_where=sql_text(REPORTED_EVENTS), postgresql_where=sql_text(REPORTED_EVENTS),
              postgresql_include=["conversation_id", "data"]),
        Index("ix_conversation_events_endings", "conversation_id", "id",
              sqlite_where=sql_text(ENDING_EVENTS), postgresql_where=sql_text(ENDING_EVENTS)),
    )


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
    # On the first reply to a customer message: when that message was accepted, so its send
    # measures the customer's wait (bot/metrics.py) without a look-up.
    accepted_at = Column(UtcDateTime)
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
    # What only the buyer knows: the order-status action asks for one of them.
    email = Column(String(255))
    postcode = Column(String(16))


class Agent(Base):
    """A person who logs in to the console (bot/console/)."""

    __tablename__ = "agents"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    # What customers see when this agent answers ("Dana from Support"); the login name
    # when none was set.
    display_name = Column(String(64))
    role = Column(String(16), nullable=False)  # agent | supervisor | trainer | admin
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UtcDateTime)
    created_at = Column(UtcDateTime, nullable=False)
    last_login_at = Column(UtcDateTime)
    # A password someone else saw (printed at creation, generated by the CLI): the console
    # lets its holder do nothing but choose a new one.
    must_change_password = Column(Boolean, nullable=False, default=False, server_default=sa_false())


class LoginThrottle(Base):
    """Recent failed logins per client address and per (address, name) pair, shared by every
    web process (bot/console/throttle.py). The key is a hash: no names or addresses kept."""

    __tablename__ = "login_throttle"
    key = Column(String(64), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(UtcDateTime, nullable=False, index=True)


class ConsoleKey(Base):
    """Secrets the console's processes share, made at first use (the login form's CSRF key)."""

    __tablename__ = "console_keys"
    name = Column(String(32), primary_key=True)
    value = Column(String(128), nullable=False)


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
    """A `bot train` (or a version's measurement) started from the console: its steps,
    progress and outcome, kept in the database so every web process can show it live and
    one run at a time is enforced."""

    __tablename__ = "training_runs"
    id = Column(Integer, primary_key=True)
    # train: `bot train`; measure: `bot models measure VERSION` (figures for a version without them).
    # One kind of run or the other holds the running slot, never both: they share the machine.
    kind = Column(String(16), nullable=False, default="train", server_default="train")
    started_by = Column(String(64), nullable=False)
    activate = Column(Boolean, nullable=False, default=True)
    status = Column(String(16), nullable=False)  # running | passed | refused | measured | failed | lost
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


class ReportHandover(Base):
    """The reports' facts of one hand-over (bot/storage/reports.py), kept so a report reads
    one narrow row per hand-over instead of working them out from the history each time.

    Worked out from the history where it is written (bot/storage/handover_facts.py, called
    by bot/storage/history.py in the same transaction as a hand-over, hand-back,
    resolution or agent reply); migration 0008 filled in the history before it."""

    __tablename__ = "report_handovers"
    handoff_id = Column(Integer, ForeignKey("conversation_events.id"), primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False)
    channel = Column(String(32), nullable=False)
    conversation_started = Column(UtcDateTime, nullable=False, index=True)
    handed_over_at = Column(UtcDateTime, nullable=False)
    reason = Column(String(64))
    intent = Column(String(128))
    first_reply_at = Column(UtcDateTime)
    first_reply_by = Column(String(255))
    ended_at = Column(UtcDateTime)
    ended_kind = Column(String(16))
    ended_by = Column(String(255))


class AddressHandoff(Base):
    """A conversation an open channel's client address put in the human queue: counted
    against ADDRESS_HANDOFFS_PER_HOUR, and forgotten once older than the hour."""

    __tablename__ = "address_handoffs"
    id = Column(Integer, primary_key=True)
    client_address = Column(String(64), nullable=False)
    conversation_id = Column(Integer, ForeignKey("conversations.id"), nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
    __table_args__ = (Index("ix_address_handoffs_address", "client_address", "created_at"),)


class AuditEntry(Base):
    """Who read or changed customer data or the service, and when (bot/audit.py). Never
    customer text: targets are ids ("conversation:12"), details are counts and names."""

    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    at = Column(UtcDateTime, nullable=False)
    actor = Column(String(64), nullable=False)  # an account's name, "cli", "retention"
    action = Column(String(64), nullable=False)
    target = Column(String(128))
    details = Column(JSON, nullable=False, default=dict)
    __table_args__ = (Index("ix_audit_log_at", "at", "id"), Index("ix_audit_log_actor", "actor", "id"),
                      Index("ix_audit_log_action", "action", "id"))


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
