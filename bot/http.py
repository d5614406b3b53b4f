"""The one HTTP client the channels share to call platform APIs."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp


@dataclass(frozen=True)
class ApiAnswer:
    """A platform API's answer: the body parsed as JSON, or its text when it is not JSON."""

    status: int
    headers: Mapping[str, str]
    body: Any


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header, in either of its forms (RFC 9110 10.2.3):
    delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"), counted from
    `now` (epoch seconds). None when absent or unreadable: the caller's backoff applies."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # "-0000" dates parse without a zone; HTTP-dates are GMT anyway.
        seconds = when.replace(tzinfo=when.tzinfo or timezone.utc).timestamp() - now
    # "inf" or "nan" would park a send forever; a date already past means "now".
    return max(0.0, seconds) if math.isfinite(seconds) else None


class ApiUnreachable(Exception):
    """The call timed out or no connection was made; worth retrying later."""


class HttpClient:
    """Created before the event loop runs, so the aiohttp session is opened on first use."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, raise_for_status=False)
        return self._session

    async def request_json(self, method: str, url: str, *, json: Any = None,
                           headers: Mapping[str, str] | None = None) -> ApiAnswer:
        """One call; raises ApiUnreachable (with a readable reason) instead of transport errors."""
        try:
            async with self.session.request(method, url, json=json, headers=headers) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = await response.text()
                return ApiAnswer(response.status, response.headers, body)
        except asyncio.TimeoutError as error:
            raise ApiUnreachable("timed out") from error
        except aiohttp.ClientError as error:
            raise ApiUnreachable(f"unreachable: {error.__class__.__name__}: {error}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
