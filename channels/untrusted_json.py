"""JSON from callers we do not trust: every way it can be bad is a 400 with a reason, never a 500.

Python's decoder raises more than `JSONDecodeError`: a `RecursionError` for arrays or
objects nested about a thousand deep, a plain `ValueError` for an integer of more than
4,300 digits. It also accepts what JSON does not have (NaN, Infinity, 1e999 read as
infinity), which PostgreSQL's JSON columns refuse later, and an escaped unpaired surrogate
("\\ud800"), a string that cannot be written as UTF-8 to a database or a log. The
surrogates are replaced by U+FFFD, so the customer's message is kept; the rest is refused.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from channels.base import WebhookRejected

# An escaped high or low surrogate; valid pairs match too, and are left as they are.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WebhookRejected(400, f"the number {text[:20]} is out of range")
    return value


def _not_json(name: str) -> Any:
    raise WebhookRejected(400, f"{name} is not JSON")


def loads(text: str) -> Any:
    """The decoded value, with unpaired surrogates replaced; WebhookRejected(400) otherwise."""
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_not_json)
    except json.JSONDecodeError as error:
        raise WebhookRejected(400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from error
    except RecursionError as error:
        raise WebhookRejected(400, "the JSON is nested too deeply") from error
    except ValueError as error:  # an integer too long to convert
        raise WebhookRejected(400, "a number in the JSON is too long") from error
    return without_lone_surrogates(data) if _ESCAPED_SURROGATE.search(text) else data


def valid_text(text: str) -> str:
    """The string with any unpaired surrogate replaced by U+FFFD (paired ones become one character)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def without_lone_surrogates(data: Any) -> Any:
    """`data` with every string (keys too) made valid; iterative, as deep as the decoder went."""
    if isinstance(data, str):
        return valid_text(data)
    if not isinstance(data, (dict, list)):
        return data
    root = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            parent[key] = valid_text(value)
        elif isinstance(value, list):
            stack.extend((value, n) for n in range(len(value)))
        elif isinstance(value, dict):
            cleaned = {valid_text(k): v for k, v in value.items()}
            parent[key] = cleaned
            stack.extend((cleaned, k) for k in cleaned)
    return root[0]


# -- reading a decoded body whose every field may have any type ------------------------------

def obj(value: Any) -> dict:
    """`value` when it is a JSON object, else an empty one: a field of an unexpected shape is
    read as absent, never a 500 that the platform would redeliver for days."""
    return value if isinstance(value, dict) else {}


def array(value: Any) -> list:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def name(value: Any) -> str | None:
    """A display name: a non-empty string, or None."""
    return value if isinstance(value, str) and value else None
