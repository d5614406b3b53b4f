"""Scraping a running service's /metrics the way Prometheus does, and reading the samples."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "scrape-token-7f3a9c1e5b2d4f60"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def get_metrics(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics", headers=headers or {}) as response:
            return response.status, await response.text()


async def scrape(url: str, token: str = TOKEN) -> Samples:
    status, text = await get_metrics(url, {"Authorization": f"Bearer {token}"})
    assert status == 200, text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def total(samples: Samples, name: str) -> float:
    return sum(v for (sample, _), v in samples.items() if sample == name)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}
