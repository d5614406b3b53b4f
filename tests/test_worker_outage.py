"""Which failures of a message are an outage (retried without giving up) and which are its own."""

import asyncio

import pytest
import redis.exceptions
import sqlalchemy.exc

from bot.engine import EngineError
from bot.engine_process import EngineUnavailable
from bot.worker import is_outage


def raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("Error while acquiring lock") from inner  # as Rasa's LockError wraps it
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize("error, outage", [
    (raised_from(redis.exceptions.ConnectionError("Connection refused")), "Redis"),
    (redis.exceptions.TimeoutError("Timeout reading"), "Redis"),
    (sqlalchemy.exc.TimeoutError("QueuePool limit reached"), "the database"),
    (ConnectionRefusedError(111, "Connect call failed"), "a service (network)"),
    (asyncio.TimeoutError(), "a service (network)"),
    (EngineUnavailable("the dialogue engine process stopped"), "the dialogue engine"),
    (EngineError("ValueError: a turn that failed"), None),
    (ValueError("a bug"), None),
    (raised_from(KeyError("slot")), None),
])
def test_outages_are_told_apart_from_the_messages_own_failures(error, outage):
    assert is_outage(error) == outage
