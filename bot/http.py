"""The one HTTP client the channels share to call platform APIs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class ApiAnswer:
    """A platform API's answer: the body parsed as JSON, or its text when it is not JSON."""

    status: int
    headers: Mapping[str, str]
    body: Any


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
