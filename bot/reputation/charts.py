"""Server-rendered charts for the Reputation page: series in, SVG coordinates out (pure).

The page stays within the console's strict Content-Security-Policy (no script is needed to
draw, no inline style: colours come from console.css by class)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.storage.reputation import SeriesPoint

WIDTH, HEIGHT, PAD = 640, 160, 4


@dataclass(frozen=True)
class Line:
    channel: str
    css: str
    # Runs of consecutive buckets with a value; a bucket without posts breaks the line.
    segments: tuple[str, ...]
    dots: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class Chart:
    title: str
    lines: tuple[Line, ...]
    y_top: str
    y_bottom: str
    # Where the zero line is drawn (the mean score's chart), or None.
    zero_y: float | None
    x_first: str
    x_last: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(line.dots for line in self.lines)


Measure = Callable[[SeriesPoint], float | None]


def volume(point: SeriesPoint) -> float | None:
    return float(point.volume)


def share_negative(point: SeriesPoint) -> float | None:
    return point.negative / point.volume if point.volume else None


def mean_score(point: SeriesPoint) -> float | None:
    return point.mean


def chart(title: str, points: Sequence[SeriesPoint], buckets: Sequence[datetime], channels: Sequence[str],
          measure: Measure, low: float, high: float | None, label: Callable[[float], str],
          bucket_label: Callable[[datetime], str], zero_missing: bool = False) -> Chart:
    """One line per channel over `buckets`; `high` None scales to the largest value."""
    by_key = {(p.channel, p.bucket): p for p in points}
    values = {channel: [_value(by_key.get((channel, b)), measure, zero_missing) for b in buckets]
              for channel in channels}
    top = high if high is not None else max([v for vs in values.values() for v in vs if v is not None] + [1.0])
    span = (top - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(buckets) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return round(PAD + index * step, 1), round(HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD), 1)

    lines = []
    for number, channel in enumerate(channels):
        segments, run, dots = [], [], []
        for index, value in enumerate(values[channel]):
            if value is None:
                segments, run = segments + ([run] if run else []), []
                continue
            x, y = xy(index, value)
            run.append(f"{x},{y}")
            dots.append((x, y, f"{channel} {bucket_label(buckets[index])}: {label(value)}"))
        segments += [run] if run else []
        lines.append(Line(channel, f"series-{number % 6}", tuple(" ".join(r) for r in segments if len(r) > 1),
                          tuple(dots)))
    zero_y = xy(0, 0.0)[1] if low < 0 < top else None
    return Chart(title, tuple(lines), label(top), label(low), zero_y,
                 bucket_label(buckets[0]) if buckets else "", bucket_label(buckets[-1]) if buckets else "")


def _value(point: SeriesPoint | None, measure: Measure, zero_missing: bool) -> float | None:
    if point is None:
        return 0.0 if zero_missing else None
    return measure(point)
