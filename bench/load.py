"""A closed-loop load: N customers, each sending its next message when the last is answered."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

ROUTINE_QUESTIONS = (
    "what are your opening hours?",
    "how much is shipping?",
    "how long does delivery take?",
    "do you ship internationally?",
    "what is your returns policy?",
    "which payment methods do you accept?",
    "do you have a promo code?",
    "where are your stores?",
)


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict:
        return {"answered": self.answered, "errors": self.errors, "empty": self.empty,
                "seconds": round(self.seconds, 2), "throughput": round(self.throughput, 2),
                "p50_ms": round(self.percentile(0.5) * 1000, 1), "p99_ms": round(self.percentile(0.99) * 1000, 1),
                "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else None}


async def closed_loop(url: str, senders: int, messages_each: int, timeout: float = 60) -> LoadResult:
    """POST Rasa REST messages to `url`; every answer must be a non-empty list."""
    result = LoadResult()
    run = uuid.uuid4().hex[:6]

    async def customer(http: aiohttp.ClientSession, n: int) -> None:
        for turn in range(messages_each):
            text = ROUTINE_QUESTIONS[(n + turn) % len(ROUTINE_QUESTIONS)]
            started = time.perf_counter()
            try:
                async with http.post(url, json={"sender": f"load-{run}-{n}", "message": text}) as response:
                    body = await response.json()
                    if response.status != 200:
                        result.errors += 1
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError):
                result.errors += 1
                continue
            if not body:
                result.empty += 1
                continue
            result.latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=senders + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(customer(http, n) for n in range(senders)))
        result.seconds = time.perf_counter() - started
    return result
