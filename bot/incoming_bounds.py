"""What a customer's message must fit before the inbox stores it.

Every channel's ids go into columns of a fixed size (bot/storage/models.py), and PostgreSQL
refuses a NUL character in text and JSON, and NaN or Infinity in JSON (which Python's
decoder, python-socketio's included, reads as numbers). Left to the database, any of them is
an insert error: a 503 that the platform retries for ever with the same event. So the ids
are bounded here (with the reason, for the caller to give back), and in everything stored
NUL characters, which no customer types, are replaced, and numbers JSON cannot hold become
null (as JavaScript's JSON.stringify writes them), so the message itself is never lost.
"""

from __future__ import annotations

import math
from typing import Any

from bot.messages import IncomingMessage, StatusUpdate

# The columns they are stored in (InboxItem.platform_message_id, Customer.external_id,
# Customer.display_name, Message.client_id). The conversation key is also Rasa's sender id,
# whose tracker store column (events.sender_id) takes 255, fewer than the inbox's 300.
MAX_MESSAGE_ID = 255
MAX_CONVERSATION_KEY = 255
MAX_SENDER_ID = 255
MAX_SENDER_NAME = 255
MAX_CLIENT_ID = 255
NUL, REPLACEMENT = "\x00", "\ufffd"


class OutOfBounds(ValueError):
    """The message cannot be stored as it is; the text is the reason, for the sender."""


def storable_json(value: Any) -> Any:
    """The JSON-like value with every NUL character (in keys too) replaced by U+FFFD and
    every NaN or infinite number replaced by None."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_json(v) for v in value]
    return value


def storable(message: IncomingMessage) -> IncomingMessage:
    """The message as it can be stored: NUL replaced, a long display name cut; ids that
    do not fit raise OutOfBounds (cutting them would merge different messages or senders)."""
    if not message.message_id or len(message.message_id) > MAX_MESSAGE_ID:
        raise OutOfBounds(f"the message id must be 1-{MAX_MESSAGE_ID} characters")
    if not message.sender_id or len(message.sender_id) > MAX_SENDER_ID:
        raise OutOfBounds(f"the sender id must be 1-{MAX_SENDER_ID} characters")
    if len(message.conversation_key) > MAX_CONVERSATION_KEY:
        raise OutOfBounds(f"the channel and sender id must be at most {MAX_CONVERSATION_KEY} characters together")
    client_id = message.metadata.get("client_id")  # the web chat's; a REST client's metadata is its own
    if client_id is not None and not (isinstance(client_id, str) and len(client_id) <= MAX_CLIENT_ID):
        raise OutOfBounds(f"'metadata.client_id' must be a string of at most {MAX_CLIENT_ID} characters")
    data = storable_json(message.to_json())
    if data["sender_name"] is not None:
        data["sender_name"] = data["sender_name"][:MAX_SENDER_NAME]
    return IncomingMessage.from_json(data)


def matchable(update: StatusUpdate) -> StatusUpdate | None:
    """A receipt as it can be looked up: None for an id that no message of ours can have
    (with a NUL, or too long for the column), which PostgreSQL would refuse to compare."""
    if NUL in update.platform_message_id or len(update.platform_message_id) > MAX_MESSAGE_ID:
        return None
    return StatusUpdate(update.channel, update.platform_message_id, update.status, storable_json(update.error))
